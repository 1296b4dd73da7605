"""Each image checks its own liveness: the runtime stage's HEALTHCHECK asks `/healthz` on
the port the process listens on (the same variable and default as its settings), so a
plain container runtime restarts a wedged process as Kubernetes' liveness probe does.
The Chime SDK emulator's image asks its own health route on its own port."""

from __future__ import annotations

import re

import pytest

from .dockerfiles import images, parse, workspace_members
from .manifests import settings_classes

IMAGES = images(workspace_members())


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_image_checks_its_health_on_its_http_port(name: str) -> None:
    member = IMAGES[name]
    final = parse((member.directory / "Dockerfile").read_text())[-1]
    [check] = final.of("HEALTHCHECK")
    flags, _, command = check.arguments.partition("CMD")
    assert re.search(r"--interval=\d+s", flags) and re.search(r"--timeout=\d+s", flags)
    script = " ".join(re.findall(r'"([^"]*)"', command))
    match = re.search(r"os\.environ\.get\('(\w+)', '(\d+)'\)", script)
    assert match, script
    variable, default = match.groups()
    if name == "chimesim":
        # The emulator answers its health on its control surface, beside the AWS API paths.
        from chimesim.settings import Settings

        assert "/_emulator/health" in script
        assert variable == "CHIMESIM_PORT" and int(default) == Settings.port
        return
    assert "/healthz" in script
    settings = settings_classes(member.import_names[0])[0]
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    field = "port" if name == "realty-gateway" else "http_port"
    assert variable == f"{prefix}{field}".upper()
    assert int(default) == settings.model_fields[field].default
