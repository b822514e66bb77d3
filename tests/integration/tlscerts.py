# A throw-away test CA and certificates made with the openssl command,
# for the TLS and DANE tests.  Nothing here talks to the network.
# SPDX-License-Identifier: ISC
import hashlib
import os
import subprocess


def _run(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=60)


class CA:
    """A root CA in folder; issue() makes leaf certificates signed by it."""

    def __init__(self, folder, name="Postel Test CA"):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.key = os.path.join(folder, "ca.key")
        self.cert = os.path.join(folder, "ca.pem")
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
              "-keyout", self.key, "-out", self.cert, "-days", "2",
              "-subj", "/CN=" + name,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], folder)

    def issue(self, stem, names, kind="rsa"):
        """Key + leaf for DNS names; returns (key, cert, chain file) paths.
        The chain file holds the key, the leaf and the CA (chain_files)."""
        key = os.path.join(self.folder, stem + ".key")
        csr = os.path.join(self.folder, stem + ".csr")
        cert = os.path.join(self.folder, stem + ".pem")
        ext = os.path.join(self.folder, stem + ".ext")
        if kind == "rsa":
            _run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                  "rsa_keygen_bits:2048", "-out", key], self.folder)
        else:
            _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-out", key], self.folder)
        _run(["openssl", "req", "-new", "-key", key, "-out", csr,
              "-subj", "/CN=" + names[0]], self.folder)
        with open(ext, "w") as f:
            f.write("subjectAltName=" +
                    ",".join("DNS:" + n for n in names) + "\n"
                    "basicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n")
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.cert,
              "-CAkey", self.key, "-CAcreateserial", "-out", cert,
              "-days", "2", "-extfile", ext], self.folder)
        chain = os.path.join(self.folder, stem + "-chain.pem")
        with open(chain, "w") as out:
            for p in (key, cert, self.cert):
                with open(p) as f:
                    out.write(f.read())
        os.chmod(key, 0o644)
        os.chmod(chain, 0o644)
        return key, cert, chain


def san_environment():
    """main.cf settings that let sanitizer options reach the daemons
    (master passes only import_environment), when the run sets them."""
    names = [n for n in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if n in os.environ]
    if not names:
        return {}
    return {"import_environment":
            "MAIL_CONFIG MAIL_DEBUG TZ LANG=C " + " ".join(names)}


def der(pem_path):
    """DER bytes of the first certificate in a PEM file."""
    r = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform",
                        "DER"], capture_output=True, check=True, timeout=30)
    return r.stdout


def spki_der(pem_path):
    """DER SubjectPublicKeyInfo of the certificate in a PEM file."""
    pub = subprocess.run(["openssl", "x509", "-in", pem_path, "-pubkey",
                          "-noout"], capture_output=True, check=True,
                         timeout=30).stdout
    r = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                       input=pub, capture_output=True, check=True, timeout=30)
    return r.stdout


def tlsa_sha256(data):
    return hashlib.sha256(data).hexdigest()
