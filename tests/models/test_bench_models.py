"""The encoder benchmark's smoke run."""


def test_bench_models_quick(capsys, load_script):
    bench = load_script("bench_models")
    assert bench.main(["--quick"]) == 0
    table = capsys.readouterr().out
    assert "| encoder | params | T | SNN ms | DNN ms | ratio |" in table
    for name in bench.model_configs():
        assert f"| {name} |" in table
