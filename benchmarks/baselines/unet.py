"""The deep-only baseline: a U-Net that segments the working image alone, trained with early stopping.

In the spirit of Groschner et al. (a U-Net on HRTEM images) and CryoSegNet:
the network sees only the pixels of the working image (the same binned,
robustly normalised image icestat's features see) and predicts the four
classes per pixel. No hand-made features, no per-micrograph adaptation. Its
segmentation is picked with the same :func:`icestat.pick.pick` as icestat's,
so the comparison is between the two ways of segmenting.

Training takes random crops of the training images (flipped and rotated, and
blurred and made noisier at random as icestat's boundary refiner's crops are:
:func:`icestat.refine.shown_otherwise`), weights the classes by the square root
of their inverse frequency (as the boundary refiner does), and keeps the
weights with the lowest loss on the validation micrographs, stopping when
that has not improved for ``patience`` evaluations.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from icestat.classes import CLASS_NAMES, IGNORE
from icestat.refine import class_weights, conv_block, shown_otherwise

log = logging.getLogger(__name__)

N_CLASSES = len(CLASS_NAMES)


class UNet(nn.Module):
    """U-Net with `depth` poolings; input ``(batch, 1, H, W)``, output class log-probabilities ``(batch, 4, H, W)``.

    H and W must be multiples of ``2 ** depth``. Channels double at each level from `width`.
    """

    def __init__(self, width: int = 16, depth: int = 3):
        super().__init__()
        channels = [width * 2 ** level for level in range(depth + 1)]
        self.down = nn.ModuleList([conv_block(n_in, n_out) for n_in, n_out in zip([1] + channels[:-1], channels)])
        self.up = nn.ModuleList([conv_block(channels[level + 1] + channels[level], channels[level])
                                 for level in reversed(range(depth))])
        self.head = nn.Conv2d(width, N_CLASSES, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skips = []
        x = image
        for level, block in enumerate(self.down):
            x = block(functional.max_pool2d(x, 2) if level else x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([functional.interpolate(x, scale_factor=2.0), skip], dim=1))
        return functional.log_softmax(self.head(x), dim=1)


class UNetSegmenter:
    """Train a :class:`UNet` on working images and their class codes; predict class probabilities per pixel.

    Parameters
    ----------
    width, depth : int
        Of the :class:`UNet`.
    max_steps : int
        Most training steps (batches).
    eval_every : int
        Steps between two validation losses.
    patience : int
        Stop after this many validations without a lower loss.
    crop_px : int
        Side of the training crops (a multiple of ``2 ** depth``).
    batch_size : int
    learning_rate : float
        Adam's step size.
    augment : bool
        Blur the training crops and make them noisier at random, as icestat's
        boundary refiner does (:func:`icestat.refine.shown_otherwise`), so that
        the two networks see the same variety.
    device : str
        A torch device: "cpu", "cuda", "cuda:N".
    random_state : int
    """

    def __init__(self, width: int = 16, depth: int = 3, max_steps: int = 1000, eval_every: int = 50,
                 patience: int = 4, crop_px: int = 128, batch_size: int = 8, learning_rate: float = 1e-3,
                 augment: bool = True, device: str = "cpu", random_state: int = 0):
        self.width, self.depth = width, depth
        self.max_steps, self.eval_every, self.patience = max_steps, eval_every, patience
        self.crop_px, self.batch_size, self.learning_rate = crop_px, batch_size, learning_rate
        self.augment = augment
        self.device = torch.device(device)
        self.random_state = random_state
        torch.manual_seed(random_state)
        self.net = UNet(width, depth)
        #: Filled by :meth:`fit`: steps taken, the step of the kept weights, validation losses, seconds.
        self.history_: dict = {}

    @property
    def n_parameters(self) -> int:
        """Number of trainable weights."""
        return sum(p.numel() for p in self.net.parameters() if p.requires_grad)

    def fit(self, images: list[np.ndarray], classes: list[np.ndarray], validation_images: list[np.ndarray],
            validation_classes: list[np.ndarray]) -> "UNetSegmenter":
        """Train on working images and class codes (``IGNORE`` pixels do not count), stopping early on validation.

        Returns
        -------
        self
        """
        started = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)
        net = self.net.to(self.device).train()
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        loss_fn = nn.NLLLoss(weight=torch.from_numpy(class_weights(classes)).to(self.device), ignore_index=IGNORE)
        crop = min(self.crop_px, *(min(image.shape) for image in images)) // 2 ** self.depth * 2 ** self.depth
        best_loss, best_step, best_weights, losses = np.inf, 0, None, []
        step = 0
        while step < self.max_steps:
            batch = [_random_crop(images[i], classes[i], crop, rng, self.augment)
                     for i in rng.integers(len(images), size=self.batch_size)]
            image, target = (torch.from_numpy(np.stack(parts)).to(self.device) for parts in zip(*batch))
            loss = loss_fn(net(image[:, None]), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            if step % self.eval_every and step < self.max_steps:
                continue
            losses.append(self._validation_loss(validation_images, validation_classes, loss_fn))
            net.train()
            log.info("U-Net step %d: validation loss %.4f", step, losses[-1])
            if losses[-1] < best_loss:
                best_loss, best_step = losses[-1], step
                best_weights = {key: value.detach().clone() for key, value in net.state_dict().items()}
            elif len(losses) - 1 - losses.index(best_loss) >= self.patience:
                break
        net.load_state_dict(best_weights)
        net.eval()
        self.history_ = {"steps": step, "best_step": best_step, "validation_losses": losses,
                         "seconds": time.perf_counter() - started}
        return self

    @torch.no_grad()
    def _validation_loss(self, images, classes, loss_fn) -> float:
        self.net.eval()
        total = 0.0
        for image, codes in zip(images, classes):
            log_prob = self._log_probabilities(image)
            target = torch.from_numpy(codes.astype(np.int64))[None].to(self.device)
            total += float(loss_fn(log_prob, target))
        return total / len(images)

    @torch.no_grad()
    def predict_proba(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities per pixel, ``(4, H, W)`` float32, of one working image."""
        self.net.eval()
        return self._log_probabilities(image).exp()[0].cpu().numpy()

    def _log_probabilities(self, image: np.ndarray) -> torch.Tensor:
        """``(1, 4, H, W)`` log-probabilities of a whole image (reflect-padded to a multiple of ``2 ** depth``)."""
        multiple = 2 ** self.depth
        rows, cols = image.shape
        padded = np.pad(image, ((0, -rows % multiple), (0, -cols % multiple)), mode="reflect")
        tensor = torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32))[None, None].to(self.device)
        return self.net.to(self.device)(tensor)[:, :, :rows, :cols]


def _random_crop(image: np.ndarray, classes: np.ndarray, crop_px: int, rng: np.random.Generator, augment: bool):
    """A random square crop of an image and its classes, randomly flipped and turned by a multiple of 90 degrees.

    With `augment`, the image's crop is also blurred and made noisier at random (:func:`icestat.refine.shown_otherwise`).
    """
    top = rng.integers(0, image.shape[0] - crop_px + 1)
    left = rng.integers(0, image.shape[1] - crop_px + 1)
    window = (slice(top, top + crop_px), slice(left, left + crop_px))
    turns, flip = rng.integers(4), bool(rng.integers(2))
    parts = []
    for part, dtype in ((image[window], np.float32), (classes[window], np.int64)):
        part = np.rot90(part, turns)
        parts.append(np.ascontiguousarray(part[:, ::-1] if flip else part, dtype=dtype))
    if augment:
        parts[0] = shown_otherwise(parts[0], rng)
    return parts
