"""Task pretraining (``snnvis-pretrain``): image and clip classification datasets on disk
(:mod:`.datasets`), tensor augmentation (:mod:`.augment`), a classification head on any encoder
core (:mod:`.heads`) and the training run (:mod:`.loop`)."""
