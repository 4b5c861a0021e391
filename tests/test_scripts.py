"""The browser scripts: one factory per file, defined once per page and mounted."""
import json
import shutil
import subprocess

import pytest

from wconv.views import scripts


def test_mount_html_defines_the_api_once_and_mounts_the_config():
    html = scripts.mount_html("denoiser_panel", "wconvDenoiserPanel", {"id": "p1", "sigma": 25})
    assert html.startswith('<script type="text/javascript">') and html.endswith("</script>")
    assert "window.wconvDenoiserPanel = window.wconvDenoiserPanel || (" in html
    assert '{"id": "p1", "sigma": 25}' in html and "window.wconvDenoiserPanel.mount(config)" in html
    with pytest.raises(ValueError, match="no script 'nope'; known: denoiser_panel, density_explorer"):
        scripts.path("nope")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
@pytest.mark.parametrize("name, names", [("density_explorer", ["decode", "filter", "mount"]),
                                         ("denoiser_panel", ["mount", "noisy", "psnr"]),
                                         ("direct_l", ["directL", "size"])])
def test_each_script_is_one_factory_returning_its_api(name, names):
    js = f"process.stdout.write(JSON.stringify(Object.keys({scripts.node_loader(name)}).sort()))"
    keys = json.loads(subprocess.run(["node", "-e", js], capture_output=True, text=True, check=True,
                                     timeout=60).stdout)
    assert set(names) <= set(keys)
