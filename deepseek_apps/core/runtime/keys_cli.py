"""``deepseek-apps keys``: create the keys that sign (and optionally encrypt) bundles.

``keys new --out DIR`` writes ``bundle_signing.key`` (Ed25519 private key, mode 0600: keep
it with whoever exports) and ``bundle_signing.pub`` (give it to every machine that loads
bundles: ``read_bundle(..., trusted_keys=[pub])``). ``--encryption`` also writes
``bundle_encryption.key`` (AES-256, base64, mode 0600). Existing keys are never overwritten.

Example:
    deepseek-apps keys new --out ~/.deepseek-apps/keys
    deepseek-apps inspector export --out b.zip --sign ~/.deepseek-apps/keys/bundle_signing.key
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_keys_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``keys new`` on the top-level sub-command parser."""
    p = sub.add_parser("keys", help="create signing / encryption keys for bundles")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    n = cmds.add_parser(
        "new",
        help="write an Ed25519 key pair (and optionally an AES key) to a folder",
        description="Write bundle_signing.key (private, mode 0600; never put it beside a bundle) and "
        "bundle_signing.pub (public: pass it as trusted_keys). Existing key files are never overwritten.",
    )
    n.add_argument("--out", required=True, type=Path, help="folder for the key files (created if missing)")
    n.add_argument(
        "--encryption", action="store_true", help="also write bundle_encryption.key (AES-256-GCM, base64, 0600)"
    )
    n.set_defaults(func=_new)


def _new(args: argparse.Namespace) -> int:
    from .encryption import KEY_FILE, new_encryption_key
    from .signing import key_id, load_public_key, new_signing_keys, write_private

    if args.encryption and (args.out / KEY_FILE).exists():
        write_private(args.out / KEY_FILE, b"")  # raises the coded "already exists" error before anything is written
    private, public = new_signing_keys(args.out)
    written = {"private_key": str(private), "public_key": str(public), "key_id": key_id(load_public_key(public))}
    if args.encryption:
        written["encryption_key"] = str(new_encryption_key(args.out))
    print(json.dumps(written))
    return 0


__all__ = ["add_keys_parser"]
