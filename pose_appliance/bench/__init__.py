"""The benchmark: the model alone against the whole pipeline, measured in the same process.

For each pose model in the models dir, each delegate present (the CPU; the Edge TPU when a device and the
model's Edge TPU build are there) and each thread count 1..cores, one worker process measures:

- bare invoke: the interpreter alone on a filled input tensor (median, p90 latency; throughput);
- the pipeline unpaced (capture -> crop -> invoke -> classify -> overlay -> display target, on its threads) on
  frames decoded ahead of time, for each frame size and display target, with the bare invoke throughput
  measured just before and after it in the same process: their ratio is the pipeline's overhead (each in
  several rounds: the median and the min-max over the rounds are reported);
- a re-creation of the TensorFlow raspberry_pi sample's serial loop on the same frames and the appliance's own
  interpreter, classifier and renderer (crop + pad + resize with OpenCV, set_tensor, invoke, classify, draw +
  show in one thread), doing the same work as the pipeline (nothing drawn for the null display); the sample's own
  code is run by ``scripts/compare-tf-sample``;
- the pipeline fed by a paced source (30 fps, a camera that drops what the pipeline cannot take): latency from
  frame capture to overlay written (p50, p99) and CPU time per frame.

A second worker per configuration runs the appliance as ``run`` builds it (paced demo video at 640x480) and
gives the time from process start to the first overlaid frame and the peak RSS (``wait4``: each worker has its
own peak). ``camera:WxH`` sizes are frames as the picamera2 source delivers them: a WxH XBGR8888 main stream
converted to RGB on the capture thread, and a YUV420 lores stream at the model's size that the model reads.

The command is :mod:`pose_appliance.commands.bench`: ``plan`` checks what to measure, ``runner`` spawns one
``workers`` process per measurement, which reads ``frames`` decoded ahead, runs the instruments of ``measure``
and the ``serial_loop`` re-creation; ``report`` checks the targets and prints the tables. Nothing on the
appliance's run path imports this package.
"""
