"""BoundaryRefiner: a small CNN that turns patch-level class probabilities into pixel-level ones.

The network sees the working image and the coarse (patch-grid, bilinearly
upsampled) probabilities of the four classes, and adds a learned correction
to their logarithms: it starts as the identity (its last layer is zero) and
learns to move boundaries onto the real edges of carbon, contamination and
particles. A two-level U-Net of about 0.1 million parameters; a refiner may
hold several, trained apart, and average what they say.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch
from scipy import ndimage
from torch import nn
from torch.nn import functional
from torch.nn.utils.fusion import fuse_conv_bn_eval

from icestat.backend import parse_device
from icestat.classes import CLASS_NAMES, IGNORE

log = logging.getLogger(__name__)

N_CLASSES = len(CLASS_NAMES)
_EPS = 1e-4
#: Random batches over which the batch-normalisation statistics are averaged after training.
BATCH_NORM_BATCHES = 50
#: With ``augment``, each training crop is also transposed (with this probability, besides its flips) ...
TRANSPOSE_PROBABILITY = 0.5
#: ... blurred by a Gaussian of a width drawn from ``BLUR_SIGMA_PX`` (with this probability) ...
BLUR_PROBABILITY = 0.25
BLUR_SIGMA_PX = (0.5, 1.5)
#: ... and given white noise of a standard deviation drawn from ``NOISE_SD`` of the crop's (with this probability),
#: then brought back to its own mean and spread, so that the network does not learn the noise and sharpness of the
#: micrographs it trained on. With each specimen held out (the recipe retrained without it, seeds 2026 and 2027), F1
#: with each micrograph's own estimated diameter rose from 0.723 / 0.657 to 0.759 / 0.779 (mean of the three), with the
#: true diameter 0.813 / 0.815 -> 0.814 / 0.819 (benchmarks/README.md).
NOISE_PROBABILITY = 0.5
NOISE_SD = (0.2, 1.0)


def conv_of_upsampled_and_skip(conv: nn.Conv2d, below: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``conv(cat([upsampled below, skip]))`` (3x3, padding 1; `below` upsampled by 2, nearest neighbour), made as
    a transposed convolution of `below` plus a convolution of `skip`: neither the upsampled copy nor the
    concatenation is made. The same outputs to rounding, a quarter less time in the network at 1036 px, in
    prediction and training alike (benchmarks/README.md).
    """
    n_below = below.shape[1]
    transposed = _upsampled_taps(_upsampled_taps(conv.weight[:, :n_below], -2), -1).transpose(0, 1)
    return (functional.conv_transpose2d(below, transposed, stride=2, padding=1)
            + functional.conv2d(skip, conv.weight[:, n_below:], conv.bias, padding=1))


def _upsampled_taps(kernel: torch.Tensor, axis: int) -> torch.Tensor:
    """A kernel's 3 taps along `axis` (before, centre, after) as the 4 of a transposed convolution (stride 2,
    padding 1) that convolves the nearest-neighbour upsampling by 2 so: each pixel of the upsampled image sees its
    low-resolution neighbours through two taps, ``after``, ``centre + after``, ``before + centre``, ``before``."""
    before, centre, after = kernel.unbind(axis)
    return torch.stack([after, centre + after, before + centre, before], axis)


def conv_block(n_in: int, n_out: int) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU: one level of a U-Net."""
    return nn.Sequential(
        nn.Conv2d(n_in, n_out, 3, padding=1), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True),
        nn.Conv2d(n_out, n_out, 3, padding=1), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True),
    )


class RefinerNet(nn.Module):
    """U-Net with two poolings; input ``(batch, 1 + 4, H, W)``, output class log-probabilities ``(batch, 4, H, W)``.

    H and W must be multiples of 4.
    """

    def __init__(self, width: int = 16):
        super().__init__()
        self.down1 = conv_block(1 + N_CLASSES, width)
        self.down2 = conv_block(width, 2 * width)
        self.bottom = conv_block(2 * width, 3 * width)
        self.up2 = conv_block(3 * width + 2 * width, 2 * width)
        self.up1 = conv_block(2 * width + width, width)
        self.head = nn.Conv2d(width, N_CLASSES, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, image: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        x1 = self.down1(torch.cat([image, coarse], dim=1))
        x2 = self.down2(functional.max_pool2d(x1, 2))
        x3 = self.bottom(functional.max_pool2d(x2, 2))
        # each upward level: its convolutions of the level below upsampled and the skip connection, concatenated
        y2 = self.up2[1:](conv_of_upsampled_and_skip(self.up2[0], x3, x2))
        y1 = self.up1[1:](conv_of_upsampled_and_skip(self.up1[0], y2, x1))
        return functional.log_softmax(torch.log(coarse.clamp_min(_EPS)) + self.head(y1), dim=1)


class BoundaryRefiner:
    """Train and apply one :class:`RefinerNet`, or several trained apart whose class probabilities are averaged.

    Parameters
    ----------
    width : int
        Channels of the first level (16 gives about 0.1 M parameters per network).
    n_steps : int
        Training steps (batches) of each network.
    crop_px : int
        Side of the random training crops (a multiple of 4).
    batch_size : int
        Crops per step.
    learning_rate : float
        Adam's first step size, annealed to zero over the steps (cosine).
        After training, the batch-normalisation statistics are averaged over
        ``BATCH_NORM_BATCHES`` random batches, so that the network does not
        depend on which crops came last.
    augment : bool
        Train on crops transposed, blurred and made noisier at random
        (:func:`shown_otherwise`), besides their flips.
    device : {"cpu", "cuda", "cuda:N"}
    random_state : int
        Seed of the crops and of the weights of the first network; the next
        networks' are ``random_state + 1``, ``+ 2`` and so on.
    n_networks : int
        Networks trained one after another, each from its own seed on crops of
        its own, whose class probabilities are averaged in prediction. Where the
        patch classifier is unsure (a specimen it never saw) each network
        draws the particles' evidence its own way, and the mean of several
        varies less: with each specimen held out, the particle diameter
        estimated from three networks' evidence was 0.75 / 0.93 / 0.96 of the
        manifest's diameters against 0.67-1.56 / 0.90-0.94 / 0.67-1.00 for each alone
        (EMPIAR-10017 / 10028 / 10059; benchmarks/README.md), though on faint,
        sparse micrographs the mean's bumps are lower and some have no estimate.
        Prediction takes ``n_networks`` times as long.
    """

    def __init__(self, width: int = 16, n_steps: int = 300, crop_px: int = 96, batch_size: int = 8,
                 learning_rate: float = 3e-3, augment: bool = True, device: str = "cpu", random_state: int = 0,
                 n_networks: int = 1):
        if n_networks < 1:
            raise ValueError(f"a refiner needs at least one network, got n_networks={n_networks}")
        if n_steps < 1:
            raise ValueError(f"a refiner needs at least one training step, got n_steps={n_steps}")
        self.width = width
        self.n_steps = n_steps
        self.crop_px = crop_px
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.augment = augment
        self.device = device
        self.random_state = random_state
        self.n_networks = n_networks
        self.networks = nn.ModuleList()
        for seed in self._seeds():
            torch.manual_seed(seed)
            self.networks.append(RefinerNet(width))
        self._inference_networks = None   # the networks folded for prediction (fold_batch_norms), made when first needed

    @property
    def n_parameters(self) -> int:
        """Number of trainable weights, all networks together."""
        return sum(p.numel() for p in self.networks.parameters() if p.requires_grad)

    def fit(self, images: list[np.ndarray], coarse: list[np.ndarray], classes: list[np.ndarray]) -> "BoundaryRefiner":
        """Train each network on working images, their coarse probabilities and their true class codes.

        Parameters
        ----------
        images : list of ndarray (H, W)
            Working images (normalised).
        coarse : list of ndarray (4, H, W)
            Coarse class probabilities per pixel, from a classifier that did not
            see the image in training (out-of-fold), so the network learns how
            far to trust them.
        classes : list of ndarray (H, W) of uint8
            True class codes; ``IGNORE`` pixels do not count.

        Returns
        -------
        self
        """
        usable = [i for i, image in enumerate(images) if min(image.shape) >= self.crop_px]
        if not usable:
            raise ValueError(f"no working image is as large as one {self.crop_px}-px crop")
        self._inference_networks = None
        weights = class_weights(classes)
        examples = [(images[i], coarse[i], classes[i]) for i in usable]
        for index, (net, seed) in enumerate(zip(self.networks, self._seeds())):
            if self.n_networks > 1:
                log.info("training refiner network %d of %d", index + 1, self.n_networks)
            self._fit_one(net, seed, examples, weights)
        return self

    def _fit_one(self, net: RefinerNet, seed: int, examples: list[tuple], weights: np.ndarray) -> None:
        """Train one network from `seed` on random crops of (image, coarse, classes) `examples`."""
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        device = torch_device(self.device)
        net.to(device, memory_format=torch.contiguous_format).train()  # as before any prediction
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        loss_fn = nn.NLLLoss(weight=torch.tensor(weights, device=device), ignore_index=IGNORE)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.n_steps)

        def random_batch():
            batch = [_random_crop(*examples[i], self.crop_px, rng, self.augment)
                     for i in rng.choice(len(examples), self.batch_size)]
            return (torch.from_numpy(np.stack(parts)).to(device) for parts in zip(*batch))

        for step in range(self.n_steps):
            image, prob, target = random_batch()
            loss = loss_fn(net(image[:, None], prob), target.long())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            if step % 100 == 0:
                log.info("refiner step %d: loss %.4f", step, loss.item())
        with torch.no_grad():   # normalisation statistics of many batches, not of the last few
            batch_norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
            momenta = [norm.momentum for norm in batch_norms]
            for norm in batch_norms:
                norm.reset_running_stats()
                norm.momentum = None   # a plain average over the batches below
            for _ in range(BATCH_NORM_BATCHES):
                image, prob, _ = random_batch()
                net(image[:, None], prob)
            for norm, momentum in zip(batch_norms, momenta):
                norm.momentum = momentum
        net.eval()

    @torch.no_grad()
    def predict_proba(self, image: np.ndarray, coarse: np.ndarray) -> np.ndarray:
        """Class probabilities per pixel, ``(4, H, W)`` float32, of one working image: the networks' mean.

        The networks run channels-last (1.4-1.9x faster on CPU than the default layout for 600-1000-px images),
        their batch normalisations folded into the convolutions (:func:`fold_batch_norms`).
        """
        device = torch_device(self.device)
        if self._inference_networks is None:   # made again after fit and load_state_dict
            self._inference_networks = [fold_batch_norms(net) for net in self.networks]
        rows, cols = image.shape
        pad = ((0, -rows % 4), (0, -cols % 4))
        image = np.pad(image, pad, mode="reflect")
        coarse = np.pad(coarse, ((0, 0),) + pad, mode="edge")
        image_tensor, coarse_tensor = (
            torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None].to(
                device, memory_format=torch.channels_last)
            for a in (image[None], coarse))
        probabilities = None
        for net in self._inference_networks:
            member = net.to(device, memory_format=torch.channels_last)(image_tensor, coarse_tensor).exp_()
            probabilities = member if probabilities is None else probabilities.add_(member)
        probabilities /= len(self._inference_networks)
        return np.ascontiguousarray(probabilities[0, :, :rows, :cols].cpu().numpy())

    def state_dict(self) -> dict:
        """The networks' weights (tensors only; the first network's keys start ``0.``, the second's ``1.``, ...)."""
        return {key: value.detach().cpu() for key, value in self.networks.state_dict().items()}

    def load_state_dict(self, weights: dict) -> "BoundaryRefiner":
        """Load weights saved by :meth:`state_dict` (one network's keys may lack the ``0.``, as icestat saved them before
        a refiner could hold several)."""
        if self.n_networks == 1 and not any(key.startswith("0.") for key in weights):
            weights = {f"0.{key}": value for key, value in weights.items()}
        self.networks.load_state_dict(weights)
        self.networks.eval()
        self._inference_networks = None
        return self

    def _seeds(self) -> range:
        """Each network's seed."""
        return range(self.random_state, self.random_state + self.n_networks)


def fold_batch_norms(net: RefinerNet) -> RefinerNet:
    """A copy of `net` for inference, each batch normalisation folded into the convolution before it.

    The same outputs (to 1e-5) from one layer fewer per convolution: 10 % faster at 620 px, 20 % at 1036 px on
    2 CPU cores. Folded by PyTorch's ``fuse_conv_bn_eval`` from the normalisation's running statistics.
    """
    folded = copy.deepcopy(net).eval()
    for name, block in folded.named_children():
        if isinstance(block, nn.Sequential):
            layers = []
            for layer in block:
                if isinstance(layer, nn.BatchNorm2d) and layers and isinstance(layers[-1], nn.Conv2d):
                    layers[-1] = fuse_conv_bn_eval(layers[-1], layer)
                else:
                    layers.append(layer)
            setattr(folded, name, nn.Sequential(*layers))
    return folded


def class_weights(classes: list[np.ndarray]) -> np.ndarray:
    """Loss weight of each class: the square root of its inverse frequency among labelled pixels, largest 1.

    Parameters
    ----------
    classes : list of ndarray of uint8
        Class codes per pixel; ``IGNORE`` pixels do not count.

    Returns
    -------
    ndarray (4,) of float32
        0 for a class that no pixel has.

    Examples
    --------
    >>> class_weights([np.array([[0, 0, 0, 0], [1, 255, 255, 255]], dtype=np.uint8)]).tolist()
    [0.5, 1.0, 0.0, 0.0]
    """
    counts = np.bincount(np.concatenate([c[c != IGNORE].ravel() for c in classes]), minlength=N_CLASSES)[:N_CLASSES]
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** 0.5, 0.0)
    return (weights / weights.max()).astype(np.float32)


def torch_device(device: str) -> torch.device:
    """PyTorch's device for `device` (``cpu``, ``cuda``, ``cuda:N``).

    Raises
    ------
    RuntimeError
        If a GPU is asked for and this PyTorch has none to run on.
    """
    parsed = parse_device(device)
    if parsed.is_gpu and not torch.cuda.is_available():
        raise RuntimeError("this PyTorch has no CUDA GPU to run on; use --device cpu")
    return torch.device(str(parsed))


def _random_crop(image, coarse, classes, crop_px, rng, augment):
    top = rng.integers(0, image.shape[0] - crop_px + 1)
    left = rng.integers(0, image.shape[1] - crop_px + 1)
    window = (slice(top, top + crop_px), slice(left, left + crop_px))
    flips = rng.integers(0, 2, size=2).astype(bool)
    parts = [image[window], coarse[(slice(None),) + window], classes[window]]
    for axis, flip in zip((-2, -1), flips):
        if flip:
            parts = [np.flip(part, axis=axis) for part in parts]
    parts = [np.ascontiguousarray(part, dtype=dtype) for part, dtype in zip(parts, (np.float32, np.float32, np.int64))]
    if augment:
        if rng.random() < TRANSPOSE_PROBABILITY:
            parts = [np.swapaxes(part, -2, -1) for part in parts]
        parts[0] = shown_otherwise(parts[0], rng)
    return [np.ascontiguousarray(part) for part in parts]


def shown_otherwise(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A training crop blurred and made noisier at random, with its own mean and standard deviation kept.

    Blurred with probability ``BLUR_PROBABILITY`` (a Gaussian of sigma drawn
    from ``BLUR_SIGMA_PX``), then given white noise with probability
    ``NOISE_PROBABILITY`` (of a standard deviation drawn from ``NOISE_SD``
    times the crop's); where either was done, rescaled to the crop's mean and
    standard deviation, as a normalised working image would be.

    Parameters
    ----------
    crop : ndarray (h, w) of float32
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (h, w) of float32
        `crop` itself where neither was drawn.
    """
    mean, sd = crop.mean(), crop.std()
    shown = crop
    if rng.random() < BLUR_PROBABILITY:
        shown = ndimage.gaussian_filter(shown, rng.uniform(*BLUR_SIGMA_PX))
    if rng.random() < NOISE_PROBABILITY:
        shown = shown + rng.normal(0, rng.uniform(*NOISE_SD) * sd, shown.shape)
    if shown is crop:
        return crop
    return ((shown - shown.mean()) / max(shown.std(), 1e-6) * sd + mean).astype(np.float32)
