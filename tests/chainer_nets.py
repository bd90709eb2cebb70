"""The named chainer model of the opt-in vision group: a CNN chain with explicit pads, written the
way chainer's own examples write their models, for `python -m harness import
tests/chainer_nets.py:AlexLike --weights ... --input-shape 3,32,32`.

chainer/examples/imagenet/alex.py's `Alex`: links declared in `__init__` under `init_scope()`
with `in_channels` None (sized at the first call), a `forward` of links and `F.*` calls
(`F.max_pooling_2d(F.relu(self.conv1(x)), 3, stride=2)`, `F.dropout(F.relu(self.fc6(h)))`).
Here at 32x32 with fewer channels, without `F.local_response_normalization` (the case has no such
layer), and with one residual step as chainer/examples/imagenet/resnet50.py writes its blocks
(convolution, `L.BatchNormalization`, relu, the block's input added back)."""

import chainer
import chainer.functions as F
import chainer.links as L


class AlexLike(chainer.Chain):

    def __init__(self, n_out=10):
        super().__init__()
        with self.init_scope():
            self.conv1 = L.Convolution2D(None, 16, 5, stride=2, pad=2)
            self.conv2 = L.Convolution2D(None, 24, 3, pad=1)
            self.bn2 = L.BatchNormalization(24)
            self.conv3 = L.Convolution2D(None, 24, 3, pad=1)
            self.bn3 = L.BatchNormalization(24)
            self.conv4 = L.Convolution2D(None, 32, 3, stride=2, pad=(1, 0))
            self.fc5 = L.Linear(None, 64)
            self.fc6 = L.Linear(None, n_out)

    def forward(self, x):
        h = F.max_pooling_2d(F.relu(self.conv1(x)), 3, stride=2)  # chainer's default cover_all=True
        h = F.relu(self.bn2(self.conv2(h)))
        h = F.relu(self.bn3(self.conv3(h)) + h)
        h = F.average_pooling_2d(F.relu(self.conv4(h)), 3, stride=1, pad=1)
        h = F.dropout(F.relu(self.fc5(h)))
        return self.fc6(h)
