"""The encoder benchmark's smoke run."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_models.py"


def test_bench_models_quick(capsys):
    spec = importlib.util.spec_from_file_location("bench_models", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0
    table = capsys.readouterr().out
    assert "| encoder | params | T | SNN ms | DNN ms | ratio |" in table
    for name in bench.model_configs():
        assert f"| {name} |" in table
