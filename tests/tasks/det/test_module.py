"""tasks/det/module.py helpers: the val-loss mode, crowd removal, merging ranks' COCO detections."""
from __future__ import annotations

import torch
from torch import nn

from tasks.det.module import first_per_image, loss_mode, without_crowd


def test_loss_mode_is_train_mode_with_frozen_batchnorm():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Dropout()).eval()
    with loss_mode(model):
        assert model.training and not model[1].training and not model[2].training
        before = model[1].running_mean.clone()
        model(torch.randn(2, 1, 3, 3))
        assert torch.equal(model[1].running_mean, before)
    assert not any(m.training for m in model.modules())


def test_without_crowd_and_first_per_image():
    target = {"boxes": torch.zeros(3, 4), "labels": torch.tensor([1, 2, 3]), "iscrowd": torch.tensor([0, 1, 0]),
              "image_id": 5}
    assert without_crowd(target)["labels"].tolist() == [1, 3]
    parts = [[{"image_id": 1, "score": 0.9}, {"image_id": 1, "score": 0.8}, {"image_id": 2, "score": 0.7}],
             [{"image_id": 2, "score": 0.7}, {"image_id": 3, "score": 0.5}]]
    assert [r["image_id"] for r in first_per_image(parts)] == [1, 1, 2, 3]
