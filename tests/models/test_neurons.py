"""Neuron factory, membrane potentials, and backend binding (CPU here; CUDA with -m gpu)."""

import copy

import pytest
import torch
from spikingjelly.activation_based import neuron, surrogate
from torch import nn

from snnvis.models.neurons import canonical_backend, make_neuron, membrane_potential, set_backend_for

CUDA = torch.cuda.is_available()


def _reference(kind: str, x: torch.Tensor, tau: float = 2.0, v_reset: float | None = 0.0, threshold: float = 1.0):
    """Plain-python neuron: (spikes, potentials before reset) for input x (T, ...)."""
    v = torch.full_like(x[0], 0.0 if v_reset is None else v_reset)
    spikes, potentials = [], []
    for x_t in x:
        h = v + x_t if kind == "if" else v + (x_t - (v - (v_reset or 0.0))) / tau
        s = (h >= threshold).float()
        v = h - threshold * s if v_reset is None else h * (1 - s) + v_reset * s
        spikes.append(s)
        potentials.append(h)
    return torch.stack(spikes), torch.stack(potentials)


@pytest.mark.parametrize("kind", ["if", "lif", "plif"])
@pytest.mark.parametrize("v_reset", [0.0, None], ids=["hard", "soft"])
def test_neuron_matches_its_equations_and_membrane_is_before_reset(kind, v_reset):
    node = make_neuron(True, {"type": kind, "tau": 2.0, "v_reset": v_reset, "surrogate": "Sigmoid", "alpha": 3.0})
    assert type(node) is {"if": neuron.IFNode, "lif": neuron.LIFNode, "plif": neuron.ParametricLIFNode}[kind]
    assert node.step_mode == "m" and node.v_reset == v_reset
    assert isinstance(node.surrogate_function, surrogate.Sigmoid) and node.surrogate_function.alpha == 3.0
    x = torch.randint(0, 24, (6, 3, 5)).float() / 16  # dyadic inputs: exact arithmetic
    spikes_ref, h_ref = _reference(kind, x, v_reset=v_reset)
    node.store_v_seq = True
    torch.testing.assert_close(node(x), spikes_ref, rtol=0, atol=0)
    torch.testing.assert_close(membrane_potential(node, x, 0.0, node.v_seq), h_ref)
    # the same, one step per call (as in the recurrent encoders' step loops)
    node.reset()
    for t in range(len(x)):
        before = node.v.clone() if isinstance(node.v, torch.Tensor) else node.v
        node(x[t : t + 1])
        torch.testing.assert_close(membrane_potential(node, x[t : t + 1], before, node.v_seq)[0], h_ref[t])


def test_twin_neuron_is_relu_and_config_is_validated_for_both():
    assert type(make_neuron(False, {"type": "plif"})) is nn.ReLU
    for spiking in (True, False):
        with pytest.raises(ValueError, match="unknown neuron type"):
            make_neuron(spiking, {"type": "adex"})
        with pytest.raises(ValueError, match="unknown surrogate"):
            make_neuron(spiking, {"surrogate": "SurrogateFunctionBase"})


def test_backend_names():
    assert canonical_backend("cupy") == "cuda"
    assert make_neuron(True, {"backend": "cupy"}).requested_backend == "cuda"
    with pytest.raises(ValueError, match="unknown neuron backend"):
        canonical_backend("cudnn")


def test_set_backend_for_on_cpu_runs_torch():
    model = nn.Sequential(make_neuron(True, {"type": "lif"}), make_neuron(True, {"type": "if", "backend": "triton"}))
    assert set_backend_for(model, "cpu") == {"lif": "torch", "if": "torch"}
    assert set_backend_for(model, "cpu", "cupy") == {"lif": "torch", "if": "torch"}
    assert set_backend_for(nn.Sequential(make_neuron(False)), "cpu") == {}
    clash = nn.Sequential(make_neuron(True, {"backend": "torch"}), make_neuron(True, {"backend": "triton"}))
    with pytest.raises(ValueError, match="binds one implementation per neuron type"):
        set_backend_for(clash, "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize("kind", ["if", "lif", "plif"])
@pytest.mark.parametrize("backend", ["auto", "triton", "cuda"])
def test_cuda_kernels_agree_with_cpu_torch(kind, backend):
    node = make_neuron(True, {"type": kind, "surrogate": "ATan", "backend": backend})
    gpu = copy.deepcopy(node).cuda()
    bound = set_backend_for(gpu, "cuda")
    assert bound[kind] in ("torch", "triton", "cuda")
    x = torch.randint(-8, 24, (8, 64, 33)).float() / 16  # dyadic: the forward is exact on both
    x_cpu, x_gpu = x.clone().requires_grad_(), x.cuda().requires_grad_()
    s_cpu, s_gpu = node(x_cpu), gpu(x_gpu)
    torch.testing.assert_close(s_gpu.cpu(), s_cpu, rtol=0, atol=0)
    weights = torch.randn_like(x)
    (s_cpu * weights).sum().backward()
    (s_gpu * weights.cuda()).sum().backward()
    torch.testing.assert_close(x_gpu.grad.cpu(), x_cpu.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize("config_name", ["sew_resnet_tiny", "cornet_rt", "lorafb_tiny"])
def test_cuda_encoder_agrees_with_cpu(config_name, build_core, calibrate, stimuli):
    cpu = calibrate(build_core(config_name, True), stimuli(4, 1, seed=1))
    gpu = copy.deepcopy(cpu).cuda()
    set_backend_for(gpu, "cuda")
    x = stimuli(2, 2, seed=2)
    out_cpu, out_gpu = cpu(x), gpu(x.cuda()).cpu()
    # spikes may flip where a potential sits within float error of the threshold
    assert (out_cpu != out_gpu).float().mean() < 1e-3
    assert abs(out_cpu.mean() - out_gpu.mean()) < 1e-3
