"""`bbm92 --export-sifted` writes the files `distill` reads (the README tour, word for word)."""

import json
import stat

import numpy as np

from qentangle.cli.main import main
from qentangle.noise import NoiseConfig
from qentangle.protocols.bbm92 import run_bbm92


def test_exported_sifted_bits_distil_into_identical_keys(tmp_path, capsys):
    sifted = tmp_path / "sifted"
    assert main(["bbm92", "--pairs", "2e5", "--depolarizing", "0.04", "--seed", "3",
                 "--export-sifted", str(sifted), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    files = {name: sifted / f"{name}.npy" for name in ("alice", "bob", "bases")}
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # key material
    alice, bob, bases = (np.load(files[name]) for name in ("alice", "bob", "bases"))
    assert alice.size == bob.size == bases.size == report["sifted_bits"] == report["sifted_export_bits"]
    assert set(np.unique(bases)) == {0, 1}
    qber = np.mean(alice != bob)
    assert 0.01 < qber < 0.03  # depolarizing 0.04: QBER 2 %
    assert "alice" not in report and str(alice.tolist()[:8]) not in json.dumps(report)

    keys = tmp_path / "keys"
    assert main(["distill", str(files["alice"]), str(files["bob"]), "--bases", str(files["bases"]),
                 "--out", str(keys), "--seed", "1", "--json"]) == 0
    distilled = json.loads(capsys.readouterr().out)
    assert distilled["keys_match"] and distilled["final_key_bits"] > 0
    assert (keys / "alice.key").read_bytes() == (keys / "bob.key").read_bytes()


def test_kept_sifted_bits_stay_out_of_reprs_and_json():
    run = run_bbm92(20_000, noise=NoiseConfig(depolarizing=0.02), seed=1, keep_sifted=True)
    assert len(run.sifted) == run.sifted_bits
    assert repr(run.sifted) == f"SiftedBits({run.sifted_bits} bits)"
    shown = repr(run)
    for field_name in ("sifted_bits", "sifted_z", "sifted_x"):
        shown = shown.replace(field_name, "")
    assert "sifted" not in shown
    assert "sifted_export" not in run.to_dict()
    assert run_bbm92(20_000, seed=1).sifted is None  # not kept unless asked
