"""PyTorch on the same GPU, for the ratios in the bench: AlexNet's layers at batch 128 (forward,
grad input, grad weight) and the fully connected products, plus full training steps of the
paper's network (grouped convs, LRN), in two settings in the same run:
  fp32_tf32_off: float32, TF32 off for matmul and cuDNN, cudnn.benchmark on (the fair match for
                 WGSL, which has no tensor cores);
  defaults:      PyTorch's own defaults (cuDNN TF32 on, matmul TF32 off, cudnn.benchmark off).
Writes JSON to the path given as the first argument and prints a table."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

dev = "cuda"
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 128
convs = [  # name, C, HW, O, k, s, p, groups
    ("conv1", 3, 227, 96, 11, 4, 0, 1),
    ("conv2", 96, 27, 256, 5, 1, 2, 2),
    ("conv3", 256, 13, 384, 3, 1, 1, 1),
    ("conv4", 384, 13, 384, 3, 1, 1, 2),
    ("conv5", 384, 13, 256, 3, 1, 1, 2),
]


def timed(fn, iters=20):
    fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters * 1e3


SETTINGS = {  # label: (matmul TF32, cuDNN TF32, cudnn.benchmark)
    "fp32_tf32_off": (False, False, True),
    "defaults": (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                 torch.backends.cudnn.benchmark),
}


def configure(label):
    mm, cudnn, bench = SETTINGS[label]
    torch.backends.cuda.matmul.allow_tf32 = mm
    torch.backends.cudnn.allow_tf32 = cudnn
    torch.backends.cudnn.benchmark = bench


def layers(label):
    configure(label)
    rows = []
    for name, c, hw, o, k, s, p, g in convs:
        x = torch.randn(batch, c, hw, hw, device=dev, requires_grad=True)
        w = torch.randn(o, c // g, k, k, device=dev, requires_grad=True)
        y = F.conv2d(x, w, stride=s, padding=p, groups=g)
        gy = torch.randn_like(y)
        oh = y.shape[2]
        flops = 2 * batch * o * oh * oh * (c // g) * k * k
        fwd = timed(lambda: F.conv2d(x, w, stride=s, padding=p, groups=g))
        gi = timed(lambda: torch.nn.grad.conv2d_input(x.shape, w, gy, stride=s, padding=p, groups=g))
        gw = timed(lambda: torch.nn.grad.conv2d_weight(x, w.shape, gy, stride=s, padding=p, groups=g))
        for pass_, ms in (("forward", fwd), ("grad input", gi), ("grad weight", gw)):
            rows.append({"layer": name, "pass": pass_, "ms": ms, "gflops": flops / ms / 1e6})
    for name, i, o in (("fc6", 9216, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000)):
        x = torch.randn(batch, i, device=dev)
        w = torch.randn(o, i, device=dev)
        ms = timed(lambda: x @ w.t())
        rows.append({"layer": name, "pass": "forward", "ms": ms, "gflops": 2 * batch * i * o / ms / 1e6})
    return rows


class AlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.LocalResponseNorm(5, 5e-4, 0.75, 2), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5, 5e-4, 0.75, 2),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 1000))

    def forward(self, x):
        return self.classifier(self.features(x))


def train_rate(label, steps=50):
    configure(label)
    model = AlexNet().to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, 227, 227, device=dev)
    y = torch.randint(0, 1000, (batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    ms = timed(step, steps)
    return batch / ms * 1e3


out = {"device": torch.cuda.get_device_name(), "batch": batch, "torch": torch.__version__}
for label in SETTINGS:
    out[label] = {"layers": layers(label), "train_images_per_s": train_rate(label),
                  "settings": dict(zip(("matmul_tf32", "cudnn_tf32", "cudnn_benchmark"),
                                       SETTINGS[label]))}
json.dump(out, open(sys.argv[1], "w"), indent=1)
print(f"PyTorch {torch.__version__} on {out['device']}, batch {batch}")
for label in SETTINGS:
    print(f"\n{label}: full AlexNet training {out[label]['train_images_per_s']:.0f} images/s")
    for r in out[label]["layers"]:
        print(f"  {r['layer']:6} {r['pass']:12} {r['ms']:8.3f} ms {r['gflops']:9.0f} GFLOP/s")
