"""What a person sees on the app's Home tab: the assertion surface for views.publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .blocks import blocks_text
from .images import images, slack_file_record
from .models import JSON
from .view import ViewFile

if TYPE_CHECKING:
    from .core import Core


@dataclass(frozen=True)
class HomeImage:
    alt_text: str
    title: str
    # The Slack file shown (None: an `image_url`, or a file that was deleted since: a broken image).
    file: ViewFile | None
    image_url: str | None = None


@dataclass(frozen=True)
class HomeTab:
    view_id: str
    hash: str
    text: str  # what a reader reads: the text of the view's blocks, in order
    blocks: list[JSON] = field(default_factory=list)
    images: list[HomeImage] = field(default_factory=list)
    published_at: float = 0.0


def home_tab(core: Core, user_id: str) -> HomeTab | None:
    view = core.ws.home_views.get(user_id)
    if view is None:
        return None
    shown: list[HomeImage] = []
    for image, _ in images(view.blocks, "/view/blocks"):
        record = slack_file_record(core, image)
        title = image.get("title")
        shown.append(
            HomeImage(
                alt_text=str(image.get("alt_text", "")),
                title=str(title.get("text", "")) if isinstance(title, dict) else "",
                file=None
                if record is None
                else ViewFile(
                    record.id,
                    record.name,
                    record.title,
                    record.mimetype,
                    record.size,
                    record.is_image,
                    record.path,
                ),
                image_url=str(image["image_url"]) if "image_url" in image else None,
            )
        )
    return HomeTab(
        view_id=view.id,
        hash=view.hash,
        text=blocks_text(view.blocks),
        blocks=list(view.blocks),
        images=shown,
        published_at=view.published_at,
    )
