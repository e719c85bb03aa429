"""The Pi camera source on the picamera2 fake, as a Pi 4 (VC4) and a Pi 5 (PiSP); and the fake's own rules."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from fakes import picamera2 as fake

from pose_appliance.camera import SourceError, open_source
from pose_appliance.camera.picamera2_source import Picamera2Source, lores_size_for
from pose_appliance.camera.pixel_formats import i420_to_rgb, picamera2_to_rgb
from pose_appliance.config import Picamera2SourceConfig, validate_config

BLUE, RED, GREY = np.array(fake.SCENE_BLUE), np.array(fake.SCENE_RED), np.array(fake.SCENE_BACKGROUND)


def source_for(module, *, width=640, height=480, fps=30.0, lores_size=(192, 192), **settings):
    return Picamera2Source(Picamera2SourceConfig(**settings), width=width, height=height, fps=fps,
                           lores_size=lores_size, picamera2_module=module)


def pixel(image, x, y):
    """The pixel at normalized (x, y), as int array."""
    h, w = image.shape[:2]
    return image[int(y * h), int(x * w)].astype(int)


def assert_scene(image, frame_number, *, hflip=False, tolerance=0):
    blue_x = 0.15 if not hflip else 0.85
    x0, _y0, x1, _y1 = fake.scene_red_box(frame_number)
    red_x = (x0 + x1) / 2 if not hflip else 1 - (x0 + x1) / 2
    assert np.abs(pixel(image, blue_x, 0.15) - BLUE).max() <= tolerance
    assert np.abs(pixel(image, red_x, 0.65) - RED).max() <= tolerance
    assert np.abs(pixel(image, 0.5, 0.1) - GREY).max() <= tolerance


@pytest.mark.parametrize("platform, lores_format, tolerance", [("vc4", "YUV420", 3), ("pisp", "RGB888", 0)])
def test_main_and_lores_come_out_rgb_on_pi4_and_pi5(platform, lores_format, tolerance):
    module = fake.make_module(platform=platform)
    source = source_for(module)
    with source:
        frames = [source.read() for _ in range(3)]
        camera = module.hardware.instances[0]
        config = camera.camera_configuration()
    assert config["main"]["format"] == "XBGR8888" and config["lores"]["format"] == lores_format
    assert source.lores_format == lores_format and source.platform_name == platform.upper()
    for n, frame in enumerate(frames):
        assert frame.index == n
        assert frame.image.shape == (480, 640, 3) and frame.image.dtype == np.uint8
        assert frame.lores.shape == (192, 256, 3) and frame.lores.dtype == np.uint8  # 4:3 like main, covers 192
        assert frame.model_image is frame.lores
        assert_scene(frame.image, n)  # main is lossless RGB
        assert_scene(frame.lores, n, tolerance=tolerance)  # YUV 4:2:0 on the Pi 4 costs a few levels
    assert camera.requests_outstanding == 0 and camera.requests_captured == 3
    assert not camera.started and not camera.is_open  # stop() closed the camera


def test_pi4_rejects_rgb_lores_like_the_real_one_and_pi5_takes_it():
    for platform, accepted in (("vc4", False), ("pisp", True)):
        camera = fake.make_module(platform=platform).Picamera2(0)
        config = camera.create_video_configuration(main={"size": (640, 480)},
                                                   lores={"size": (320, 240), "format": "RGB888"})
        if accepted:
            camera.configure(config)
        else:
            with pytest.raises(RuntimeError, match="lores stream must be YUV"):
                camera.configure(config)


def test_fake_memory_layouts_follow_picamera2():
    module = fake.make_module(platform="pisp")
    camera = module.Picamera2(0)
    camera.configure(camera.create_preview_configuration(main={"size": (320, 240), "format": "RGB888"},
                                                         lores={"size": (160, 120), "format": "BGR888"}))
    camera.start()
    request = camera.capture_request()
    main, lores = request.make_array("main"), request.make_array("lores")
    request.release()
    assert tuple(pixel(main, 0.15, 0.15)) == (255, 0, 0)  # "RGB888" holds B,G,R: pure blue reads [255, 0, 0]
    assert tuple(pixel(lores, 0.15, 0.15)) == (0, 0, 255)  # "BGR888" holds R,G,B
    camera.close()

    camera = fake.make_module(platform="vc4").Picamera2(0)
    camera.configure(camera.create_preview_configuration(main={"size": (640, 480)}, lores={"size": (250, 190)}))
    camera.start()
    request = camera.capture_request()
    yuv = request.make_array("lores")
    assert camera.camera_configuration()["lores"]["stride"] == 256  # rows padded like the hardware
    assert yuv.shape == (190 * 3 // 2, 256)  # I420 as (h*3/2, stride)
    assert_scene(i420_to_rgb(yuv, 250, 190), 0, tolerance=3)
    xbgr = request.make_array("main")
    assert xbgr.shape == (480, 640, 4) and tuple(pixel(xbgr, 0.15, 0.15)) == (0, 0, 255, 255)
    request.release()
    with pytest.raises(RuntimeError, match="after release"):
        request.make_array("main")


def test_frames_are_copies_released_at_once():
    module = fake.make_module(platform="vc4")
    with source_for(module) as source:
        frame = source.read()
        camera = module.hardware.instances[0]
        assert camera.requests_outstanding == 0
        for _ in range(3):
            source.read()  # the fake scribbles 0x55 over recycled buffers: a view would change under us
    assert_scene(frame.image, 0)
    assert_scene(frame.lores, 0, tolerance=3)


def test_all_formats_convert_to_the_same_rgb():
    module = fake.make_module(platform="pisp")
    images = {}
    for fmt in ("RGB888", "BGR888", "XBGR8888", "XRGB8888"):
        camera = module.Picamera2(0)
        camera.configure(camera.create_video_configuration(main={"size": (330, 240), "format": fmt}))
        camera.start()
        request = camera.capture_request()
        with module.MappedArray(request, "main") as mapped:
            images[fmt] = picamera2_to_rgb(mapped.array, fmt, (330, 240))
        request.release()
        camera.close()
    for fmt, image in images.items():
        assert image.flags.c_contiguous, fmt
        np.testing.assert_array_equal(image, fake.render_scene(0, 330, 240), err_msg=fmt)


def test_yuv_lores_of_real_video_matches_the_resized_frame(shared):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    module = fake.make_module(platform="vc4", video=video)
    with source_for(module, width=576, height=576, lores_size=(192, 192)) as source:
        frames = [source.read() for _ in range(2)]
    capture = cv2.VideoCapture(str(video))
    truth = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(2)]
    capture.release()
    for frame, rgb in zip(frames, truth):
        assert frame.lores.shape == (192, 192, 3)
        expected = cv2.resize(rgb, (192, 192), interpolation=cv2.INTER_AREA).astype(int)
        error = np.abs(frame.lores.astype(int) - expected)
        assert error.mean() < 3.0  # chroma subsampling only; a channel swap or range error is far larger
        assert np.abs(frame.image.astype(int) - rgb).max() <= 1


def test_flip_buffer_count_and_frame_rate_are_configured():
    module = fake.make_module(platform="pisp")
    with source_for(module, fps=15.0, hflip=True, buffer_count=3) as source:
        frame = source.read()
        camera = module.hardware.instances[0]
        config = camera.camera_configuration()
        assert config["transform"] == module.libcamera.Transform(hflip=1)
        assert config["buffer_count"] == 3
        assert camera.controls_set["FrameDurationLimits"] == (66666, 66666)  # FrameRate 15
        assert source.frame_rate == 15.0
    assert_scene(frame.image, 0, hflip=True)
    assert_scene(frame.lores, 0, hflip=True)


def test_live_camera_index_shows_frames_nobody_captured():
    module = fake.make_module(platform="vc4", realtime=True)
    with source_for(module, fps=100.0) as source:
        assert source.live
        first = source.read()
        time.sleep(0.1)  # about 10 frame periods at 100 fps
        later = source.read()
    assert first.index == 0 and later.index >= 5
    assert source.dropped == later.index - 1  # counted as dropped, like the frames the pipeline cannot take


def test_frames_are_not_counted_dropped_after_the_frame_duration_lengthens_and_shortens_again():
    """Auto-exposure in a dim room lengthens the frame duration (30 -> 15 fps) and shortens it when the light
    comes back: the camera delivered every frame and every one was taken, so none is dropped."""
    module = fake.make_module(platform="vc4")
    with source_for(module, fps=30.0) as source:
        camera = module.hardware.instances[0]
        indices = [source.read().index for _ in range(60)]
        camera.set_controls({"FrameDurationLimits": (66666, 66666)})  # as auto-exposure does in low light
        indices += [source.read().index for _ in range(30)]
        camera.set_controls({"FrameDurationLimits": (33333, 33333)})
        indices += [source.read().index for _ in range(30)]
    assert indices == list(range(120))
    assert source.dropped == 0


def test_a_frame_duration_change_counts_no_drop_when_the_gap_is_the_previous_frames_duration():
    """The gap before the first short frame may be the long frame's duration (the sensor's timestamp is where a
    frame starts); frames missed later are still counted."""
    source = source_for(fake.make_module())
    timestamp, indices = 0, []
    for duration_us in [33333] * 30 + [66666] * 15 + [33333] * 30:
        indices.append(source._frame_index({"SensorTimestamp": timestamp, "FrameDuration": duration_us}))
        timestamp += duration_us * 1000
    assert indices == list(range(75)) and source.dropped == 0
    timestamp += 2 * 33333 * 1000  # two frames nobody captured
    assert source._frame_index({"SensorTimestamp": timestamp, "FrameDuration": 33333}) == 77
    assert source.dropped == 2


def test_missing_camera_and_missing_picamera2_are_one_line_errors(monkeypatch):
    module = fake.make_module(platform="vc4", num_cameras=1)
    with pytest.raises(SourceError, match=r"camera.picamera2.camera_num: no camera 1") as info:
        source_for(module, camera_num=1).start()
    assert "\n" not in str(info.value)
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    with pytest.raises(SourceError, match="python3-picamera2"):
        Picamera2Source(Picamera2SourceConfig()).start()


def test_picamera2_is_imported_only_when_the_camera_starts():
    code = ("import sys; import pose_appliance.camera.picamera2_source as m; "
            "cfg = __import__('pose_appliance.config', fromlist=['x']).validate_config("
            "{'camera': {'type': 'picamera2'}}).camera; "
            "from pose_appliance.camera import open_source; open_source(cfg, lores_size=(192, 192)); "
            "print('picamera2' in sys.modules, 'libcamera' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_open_source_builds_the_picamera2_source_from_config():
    config = validate_config({"camera": {"type": "picamera2", "width": 1280, "height": 720, "fps": 25,
                                         "picamera2": {"buffer_count": 5, "vflip": True}}}).camera
    source = open_source(config, lores_size=(256, 256))
    assert isinstance(source, Picamera2Source)
    assert source.main_size == (1280, 720) and source.lores_size == (456, 256) and source.frame_rate == 25
    assert source.settings.buffer_count == 5 and source.settings.vflip


def test_lores_size_keeps_the_main_aspect_ratio_and_even_sizes():
    assert lores_size_for((640, 480), (192, 192)) == (256, 192)
    assert lores_size_for((1280, 720), (256, 256)) == (456, 256)
    assert lores_size_for((1920, 1080), (257, 257)) == (458, 258)
    assert lores_size_for((640, 480), None) is None
    assert lores_size_for((320, 240), (512, 512)) is None  # model wants more than main: read main
    width, height = lores_size_for((1456, 1088), (192, 192))
    assert width % 2 == 0 and height % 2 == 0 and height >= 192 and abs(width / height - 1456 / 1088) < 0.02


# -------------------------------------------------------------------------------------- preview and overlay
def test_drm_preview_swapped_in_on_the_running_camera_with_overlay_rules():
    module = fake.make_module(platform="vc4")
    with source_for(module) as source:
        camera = source.picam2
        assert camera.preview.kind == module.Preview.NULL  # start() runs picamera2's request loop headless
        camera.stop_preview()
        camera.start_preview(module.Preview.DRM, x=0, y=0, width=1920, height=1080)
        assert (camera.preview.width, camera.preview.height) == (1920, 1080)
        overlay = np.zeros((480, 640, 4), np.uint8)
        overlay[10:20, 10:20] = (255, 0, 0, 128)
        camera.set_overlay(overlay)
        camera.set_overlay(overlay)
        camera.set_overlay(None)
        assert camera.overlay_buffers_allocated == 2  # every call allocates: update only on change
        assert len(camera.overlay_calls) == 3 and camera.overlay_calls[2] is None
        with pytest.raises(RuntimeError, match="4-channel"):
            camera.set_overlay(np.zeros((480, 640, 3), np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            camera.set_overlay(np.zeros((480, 640, 4), np.float32))
        assert_scene(source.read().image, 0)  # capture goes on under the DRM preview
    assert camera.preview is None and not camera.is_open


def test_drm_preview_fails_without_drm_master_and_capture_goes_on():
    module = fake.make_module(platform="pisp", drm_master=False)
    with source_for(module) as source:
        camera = source.picam2
        camera.stop_preview()
        with pytest.raises(RuntimeError, match="DRM master"):
            camera.start_preview(module.Preview.DRM, x=0, y=0, width=800, height=480)
        camera.start_preview(module.Preview.NULL)
        assert source.read().index == 0


def test_fake_overlay_needs_buffers_a_shown_frame_and_a_preview():
    module = fake.make_module(platform="vc4")
    camera = module.Picamera2(0)
    overlay = np.zeros((48, 64, 4), np.uint8)
    with pytest.raises(AttributeError):
        camera.set_overlay(overlay)  # no preview at all
    camera.configure(camera.create_preview_configuration(buffer_count=2))
    camera.start_preview(module.Preview.DRM, x=0, y=0, width=640, height=480)
    with pytest.raises(RuntimeError, match="Overlays not supported"):
        camera.set_overlay(overlay)  # nothing shown yet: the overlay plane is reserved with the first frame
    camera.start()
    camera.set_overlay(overlay)
    assert np.array_equal(camera.preview.overlay, overlay) and camera.overlay_buffers_allocated == 1
    with pytest.raises(RuntimeError, match="An event loop is already running"):
        camera.start_preview(module.Preview.DRM)
    camera.close()
    assert camera.preview is None

    single = module.Picamera2(0)
    single.configure(single.create_preview_configuration(buffer_count=1))
    single.start_preview(module.Preview.DRM)
    single.start()
    with pytest.raises(RuntimeError, match="buffer_count=2"):
        single.set_overlay(overlay)
    single.close()


@pytest.mark.parametrize("size", [(0, 0), (1280, 720), (641, 481), (320, 240)])
@pytest.mark.parametrize("model_input", [(192, 192), (256, 256), None])
def test_lores_size_of_is_the_lores_size_open_source_configures(size, model_input):
    """What a reload compares to decide whether a new model needs the camera restarted."""
    from pose_appliance.camera import lores_size_of

    config = validate_config({"camera": {"type": "picamera2", "width": size[0], "height": size[1]}}).camera
    assert lores_size_of(config, model_input) == open_source(config, lores_size=model_input).lores_size
    assert lores_size_of(dataclasses.replace(config, type="opencv"), model_input) is None
