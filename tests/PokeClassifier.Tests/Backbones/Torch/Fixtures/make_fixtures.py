"""Writes the PyTorch fixtures of TorchCheckpointTests and DenseNetTests with real PyTorch (Debian 12: python3-torch 1.13,
python3-torchvision 0.14). Run from this folder: /usr/bin/python3 make_fixtures.py. The outputs are committed; tests never run Python.

small_cnn.*: the "small-cnn" test network (see TorchTestNetworks.cs) with seeded random weights and batch-norm statistics:
  small_cnn_zip.pth       torch.save, the zip format (PyTorch >= 1.6)
  small_cnn_legacy.pth    torch.save(..., _use_new_zipfile_serialization=False): the legacy format, _rebuild_tensor_v2
  small_cnn_2017.pth      the legacy format as PyTorch 0.2/0.3 on Python 2 wrote it (torchvision's densenet201-c1103571.pth,
                          vgg16-397923af.pth): _rebuild_tensor with four arguments, no num_batches_tracked, the
                          OrderedDict pickled from a list of [key, value] pairs
  small_cnn_expected.txt  its features for the input of TorchTestNetworks.Input(16, 16)
<arch>_state_dict.txt: torchvision's state dict (name and shape per line) of densenet201, vgg16 and resnet18, 1000 classes.
densenet201_expected.txt: torchvision's densenet201 features (relu(norm5), global average pool) at 64 x 64 with the deterministic
  weights of DeterministicWeights below (mirrored by DenseNetTests), for the input of TorchTestNetworks.Input(64, 64).
"""
import collections, math, pickle, struct, sys
import torch, torchvision
from torch import nn

torch.manual_seed(7)


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_input(h, w):
    # value of element i (C order over 3 x h x w) = sin(0.37 i) * 1.5, as float32
    n = 3 * h * w
    return torch.tensor([math.sin(0.37 * i) * 1.5 for i in range(n)], dtype=torch.float64).float().reshape(1, 3, h, w)


def deterministic_weights(model):
    # element i of the tensor called key: s = sin(0.7 i + j), j = sum((k + 1) * ord(key[k])) % 997 (independent of order)
    sd = model.state_dict()
    for key, t in sd.items():
        j = sum((k + 1) * ord(c) for k, c in enumerate(key)) % 997
        if key.endswith("num_batches_tracked"):
            continue
        n = t.numel()
        s = torch.sin(torch.arange(n, dtype=torch.float64) * 0.7 + j)
        if key.endswith("running_var"):
            v = 1 + 0.5 * s.abs()
        elif key.endswith("running_mean") or key.endswith("bias"):
            v = 0.1 * s
        elif t.dim() == 4:
            v = s * math.sqrt(4.0 / (t.shape[1] * t.shape[2] * t.shape[3]))
        elif t.dim() == 1:  # batch-norm weight
            v = 1 + 0.1 * s
        else:  # classifier weight
            v = 0.01 * s
        t.copy_(v.reshape(t.shape).float())


def write_v1(state, path):
    """The legacy format as PyTorch 0.2/0.3 wrote it: _rebuild_tensor(storage, offset, size, stride)."""
    from torch._utils import _rebuild_tensor

    class Storage:
        def __init__(self, key, t):
            self.key, self.t = key, t

    class OldTensor:
        def __init__(self, storage, t):
            self.storage, self.t = storage, t

        def __reduce__(self):
            return (_rebuild_tensor, (self.storage, 0, tuple(self.t.shape), tuple(self.t.stride())))

    class OldPickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.t.numel(), None)
            return None

    class Py2OrderedDict:
        # Python 2's OrderedDict.__reduce__: (OrderedDict, ([[key, value], ...],))
        def __init__(self, items):
            self.items = items

        def __reduce__(self):
            return (collections.OrderedDict, ([[k, v] for k, v in self.items.items()],))

    storages, od = [], collections.OrderedDict()
    for i, (k, t) in enumerate(state.items()):
        if k.endswith("num_batches_tracked"):
            continue
        s = Storage(str(1000 + i), t.contiguous())
        storages.append(s)
        od[k] = OldTensor(s, t)
    with open(path, "wb") as f:
        pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump(dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4)), f, protocol=2)
        OldPickler(f, protocol=2).dump(Py2OrderedDict(od))
        pickle.dump(sorted(s.key for s in storages), f, protocol=2)
        for s in sorted(storages, key=lambda s: s.key):
            f.write(struct.pack("<q", s.t.numel()))
            f.write(s.t.numpy().tobytes())


def write_floats(values, path):
    with open(path, "w") as f:
        f.write("\n".join(repr(float(v)) for v in values) + "\n")


m = small_cnn()
with torch.no_grad():
    m[1].running_mean.uniform_(-0.5, 0.5)
    m[1].running_var.uniform_(0.5, 2.0)
    m[1].weight.uniform_(0.5, 1.5)
    m[1].bias.uniform_(-0.2, 0.2)
m.eval()
sd = m.state_dict()
torch.save(sd, "small_cnn_zip.pth")
torch.save(sd, "small_cnn_legacy.pth", _use_new_zipfile_serialization=False)
write_v1(sd, "small_cnn_2017.pth")
for name in ["small_cnn_zip.pth", "small_cnn_legacy.pth", "small_cnn_2017.pth"]:
    loaded = torch.load(name)
    assert all(torch.equal(loaded[k], sd[k]) for k in loaded), name
with torch.no_grad():
    write_floats(m(test_input(16, 16))[0].tolist(), "small_cnn_expected.txt")

d = torchvision.models.densenet201()
with torch.no_grad():
    deterministic_weights(d)
    d.eval()
    f = d.features(test_input(64, 64))
    out = torch.flatten(nn.functional.adaptive_avg_pool2d(nn.functional.relu(f), (1, 1)), 1)
write_floats(out[0].tolist(), "densenet201_expected.txt")
for name in ["densenet201", "vgg16", "resnet18"]:
    with open(f"{name}_state_dict.txt", "w") as f:
        for key, t in getattr(torchvision.models, name)().state_dict().items():
            f.write(f"{key} {list(t.shape)}\n".replace(", ", ","))
print("ok", torch.__version__, torchvision.__version__)
