import json
import stat

import numpy as np

from qentangle.cli.main import main


def _write(tmp_path, n=20_000, q=0.02, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    b = a ^ (rng.random(n) < q).astype(np.uint8)
    np.save(tmp_path / "alice.npy", a)
    text = "\n".join("".join(map(str, b[i : i + 80])) for i in range(0, n, 80))
    (tmp_path / "bob.txt").write_text(text)
    return tmp_path / "alice.npy", tmp_path / "bob.txt"


def test_cli_writes_private_keys_and_report(tmp_path, capsys):
    alice, bob = _write(tmp_path)
    out = tmp_path / "out"
    code = main(["distill", str(alice), str(bob), "--seed", "1", "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keys_match"] is True and report["final_key_bits"] > 0
    for name in ("alice.key", "bob.key", "report.json"):
        mode = stat.S_IMODE((out / name).stat().st_mode)
        assert mode == 0o600, name
    key_a = (out / "alice.key").read_text().strip()
    assert len(key_a) == report["final_key_bits"]
    assert key_a == (out / "bob.key").read_text().strip()
    assert key_a not in json.dumps(report)


def test_cli_bad_input_one_line_exit_2(tmp_path, capsys):
    alice, _ = _write(tmp_path)
    (tmp_path / "bad.txt").write_text("0101x")
    assert main(["distill", str(alice), str(tmp_path / "bad.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "BOB" in err


def test_cli_abort_exit_1(tmp_path, capsys):
    alice, bob = _write(tmp_path, n=2000, q=0.2)
    assert main(["distill", str(alice), str(bob), "--seed", "2"]) == 1
    assert "aborted" in capsys.readouterr().out
