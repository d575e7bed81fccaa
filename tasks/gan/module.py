"""DCGAN training with Lightning's manual optimisation: one discriminator step, then one generator step per batch.

Non-saturating loss with logits: D minimises BCE(D(x), 1) + BCE(D(G(z)), 0), G minimises BCE(D(G(z)), 1).
Logged per epoch: train/loss_d, train/loss_g, train/d_real = mean sigmoid(D(x)), train/d_fake =
mean sigmoid(D(G(z))) before the G step; per validation/test epoch the sample-quality metrics of
`quality.py` on as many generated images as real ones.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from tasks.common.errors import ConfigError
from tasks.common.optim import build_optimizer
from tasks.common.run_record import RunRecord
from tasks.common.task_module import TaskModule
from tasks.gan.models import build_dcgan
from tasks.gan.proxy_classifier import digits_classifier
from tasks.gan.quality import build_quality, check_fid_available, proxy_kind
from tasks.gan.samples import fixed_noise, sample_epochs, sample_path, save_grid

EVAL_NOISE_SEED = 10_000  # validation/test latents: the same every epoch, disjoint from the fixed grid's


class GanTask(TaskModule):
    monitor, monitor_mode = "val/proxy_kid", "min"
    lower_is_better = ("loss", "proxy_kid", "fid", "kid")
    ddp_find_unused_parameters = True  # the D step leaves G without gradients
    train_mean_names = ("loss_d", "loss_g", "d_real", "d_fake")

    def __init__(self, cfg: DictConfig, in_chans: int, image_size: int) -> None:
        super().__init__(cfg)
        self.automatic_optimization = False
        self.model = build_dcgan(cfg.model, cfg.act, image_size, in_chans, self.act_layer)
        self.latent_dim = int(cfg.model.latent_dim)
        self.register_buffer("fixed_noise", fixed_noise(int(cfg.task.n_samples), self.latent_dim,
                                                         int(cfg.task.noise_seed)))
        if cfg.metrics.get("fid", False):
            check_fid_available()
        kind = proxy_kind(str(cfg.data.get("gan_proxy", "pixels")))
        if kind == "classifier" and in_chans != 1:
            raise ConfigError(f"data.gan_proxy=classifier needs the digits data; data={cfg.data.name}: use pixels.")
        classifier, self.proxy_info = None, {"kind": kind}
        if kind == "classifier":
            classifier, info = digits_classifier(cfg.metrics.cache_dir, image_size)
            self.proxy_info.update(classifier=info)
        self.quality = torch.nn.ModuleDict({s: build_quality(kind, classifier, cfg.metrics) for s in ("val", "test")})

    @property
    def generator(self) -> torch.nn.Module:
        return self.model.generator

    @property
    def discriminator(self) -> torch.nn.Module:
        return self.model.discriminator

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def configure_optimizers(self):
        """Two optimisers from the same `optim` config: [discriminator, generator]."""
        max_epochs = self.trainer.max_epochs if self.trainer.max_epochs and self.trainer.max_epochs > 0 else 1
        return [build_optimizer(self.cfg.optim, net, max_epochs, float(self.cfg.act.get("lr_scale", 1.0)))
                for net in (self.discriminator, self.generator)]

    def training_step(self, batch, batch_idx: int) -> None:
        real = batch[0]
        opt_d, opt_g = self.optimizers()
        fake = self.generator(torch.randn(len(real), self.latent_dim, device=self.device))

        with self.toggled_optimizer(opt_d):
            logits_real, logits_fake = self.discriminator(real), self.discriminator(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
                      + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()

        with self.toggled_optimizer(opt_g):
            logits_gen = self.discriminator(fake)
            loss_g = F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss_g)
            opt_g.step()

        values = {"loss_d": loss_d, "loss_g": loss_g, "d_real": torch.sigmoid(logits_real).mean(),
                  "d_fake": torch.sigmoid(logits_fake).mean()}
        for name, value in values.items():
            self.log_train_mean(name, value, batch_size=len(real), prog_bar=True)

    def on_train_epoch_end(self) -> None:
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()
        epoch = self.current_epoch + 1
        if epoch in sample_epochs(self.cfg.task.sample_epochs, int(self.trainer.max_epochs)):
            self.write_samples(epoch)

    @torch.no_grad()
    def write_samples(self, epoch: int) -> Path | None:
        """The fixed-noise grid of this epoch (rank 0; generator in eval mode, so BatchNorm uses running stats)."""
        if not self.trainer.is_global_zero:
            return None
        was_training = self.generator.training
        self.generator.eval()
        images = self.generator(self.fixed_noise)
        self.generator.train(was_training)
        return save_grid(images, sample_path(self.trainer.default_root_dir, epoch))

    def on_fit_start(self) -> None:
        record = RunRecord(self.trainer.default_root_dir)
        if self.trainer.is_global_zero and record.has_summary():
            record.update(quality_proxy=self.proxy_info)

    def _quality_step(self, batch, batch_idx: int, stage: str) -> None:
        real = batch[0]
        seed = EVAL_NOISE_SEED + self.global_rank * 1_000_003 + batch_idx
        z = fixed_noise(len(real), self.latent_dim, seed).to(self.device)
        self.quality[stage].update(real, self.generator(z))

    def _log_quality(self, stage: str) -> None:
        values = self.quality[stage].compute()  # torchmetrics gathers all ranks: the same value everywhere
        self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, prog_bar=stage == "val", sync_dist=True)
        self.quality[stage].reset()

    def validation_step(self, batch, batch_idx: int) -> None:
        self._quality_step(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_quality("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._quality_step(batch, batch_idx, "test")

    def on_test_epoch_end(self) -> None:
        self._log_quality("test")
