"""The operator's pages (DESIGN §9): flows list, canvas editor, version history, runs, member timeline.

Pages are rendered on the server and refreshed in parts with htmx; the canvas itself is a script that
talks to the JSON API (`/api/...`). Every page checks the role like the API does, and state-changing
requests carry the session's CSRF token (htmx sends it as a header set once on `<body>`).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.file_system import BaseLocalFileSystem
from litestar.params import Body, FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_404_NOT_FOUND
from litestar.types import FileInfo, PathType

from qunflow.engine.compiler import check
from qunflow.engine.errors import NotFound, UserError
from qunflow.engine.run import FAILED, STATUSES
from qunflow.flows import load_template, template_names

from .api.members import TIMELINE_LIMIT, member_detail
from .api.params import FLOW_ID_PATTERN, FlowId, MemberId, RunId, text_filter
from .api.views import RunView, iso
from .assets import STATIC_PATH, VENDORED
from .auth import CSRF_HEADER, READ, WRITE, allow, principal, safe_next, services_of
from .changes import Change, change_words, flow_changes
from .i18n import LANGUAGE_COOKIE, LANGUAGES, catalogue, choose_language, translator
from .layout import with_layout
from .member_lookup import look_up_member
from .names import Names
from .pickers import community_choices
from .problem_words import problem_words
from .services import Services
from .wording import group_ids, named_ids, port_taken, port_words, timeline_lines, wait_reason

RUNS_PAGE = 50
# Pages show times in the flows' default timezone (DESIGN §4), where operators work.
DISPLAY_TIMEZONE = ZoneInfo("Asia/Shanghai")
STATIC_DIRECTORY = Path(__file__).parent / "static"
# A filter form submits its empty fields too (`?flow=&status=failed`): empty means "no filter".
ANY_TEXT = r"^[^\x00]*$"


class StaticDirectory(BaseLocalFileSystem):
    """The local file system, where a path with a NUL character (`/static/%00`) is simply not found:
    the operating system refuses such a name with ValueError, which would otherwise be a 500."""

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)


def static_files() -> Router:
    """`/static/...`: the editor's scripts, styles and vendored libraries."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIRECTORY],
        file_system=StaticDirectory(),
        include_in_schema=False,
    )


async def page_context(request: Request[Any, Any, Any], **values: Any) -> dict[str, Any]:
    """What every page template gets: language, translator, who is signed in, the CSRF token."""
    language = choose_language(request.cookies.get(LANGUAGE_COOKIE))
    who = await principal(request)
    delivering = who is None or await anyio.to_thread.run_sync(services_of(request).connectors.delivering)
    # Admins see on every page how many flows wait for their approval (DESIGN §18).
    waiting = 0
    if who is not None and who.role == "admin":
        waiting = len(await anyio.to_thread.run_sync(services_of(request).store.pending_approvals))
    return {
        "lang": language,
        "languages": LANGUAGES,
        "_": translator(language),
        "user": who,
        "can_write": who is not None and who.role in WRITE,
        "csrf": getattr(request.state, "csrf", ""),
        "csrf_header": CSRF_HEADER,
        "vendored": VENDORED,
        "path": request.url.path,
        "when": _when,
        "as_json": _as_json,
        # False while no route leads to a connector that sends: the pages say nothing is sent.
        "delivering": delivering,
        "pending_approvals": waiting,
        # `serve --demo`: the WeCom it sends to is a fake on this machine, and every page says so.
        "simulated_wecom": bool(getattr(request.app.state, "simulated_wecom", False)),
        **values,
    }


def _when(moment: datetime | None) -> str:
    """`{{ when(run.started_at) }}`: a stored UTC time as operators read it."""
    return moment.astimezone(DISPLAY_TIMEZONE).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _as_json(value: Any) -> str:
    """`{{ as_json(entry.data) }}`: any stored value (times included) as compact JSON text."""
    return msgspec.json.encode(value).decode()


class PortsQuery(msgspec.Struct):
    type: str
    config: dict[str, Any] = {}


def node_ports(services: Services, type_id: str, config: Any) -> list[str] | None:
    """The output ports of a node with this config; None when the config does not decode yet."""
    node_type = services.registry.get(type_id)
    if node_type is None:
        return None
    try:
        decoded = msgspec.convert(config if isinstance(config, dict) else {}, node_type.config)
    except msgspec.ValidationError:
        return _ports_without_config(node_type)
    return list(node_type.ports_for(decoded))


def _ports_without_config(node_type: Any) -> list[str] | None:
    """The ports of a node whose config does not decode yet (a message without its text): those its
    type has without a config when it says (`next` for a message that does not wait), else None."""
    try:
        return list(node_type.ports_for(None))
    except (AttributeError, TypeError):
        return None


def _dynamic_ports(services: Services, document: dict[str, Any]) -> dict[str, list[str]]:
    """Ports of the document's nodes whose ports depend on their config (switch, split, task)."""
    found: dict[str, list[str]] = {}
    for node in document.get("nodes") or []:
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        node_type = services.registry.get(str(node.get("type")))
        if node_type is not None and callable(node_type.ports):
            found[node["id"]] = node_ports(services, node_type.type, node.get("config")) or []
    return found


def _draft_problems(services: Services, document: dict[str, Any]) -> list[dict[str, Any]]:
    """What the stored draft must fix before it can be published, in the operator's words."""
    flow_ids = {f["id"] for f in services.store.list_flows()}
    _, _, problems = check(document, services.registry, flow_ids, services.store.content_index())
    return [problem_words(p) for p in problems]


class NewFlowForm(msgspec.Struct):
    id: str = ""
    name: str = ""
    template: str = ""


def _flow_rows(services: Services) -> list[dict[str, Any]]:
    statuses = services.store.journey_statuses()
    deliveries = services.store.delivery_counts()
    pending = {p["flow_id"]: p for p in services.store.pending_approvals()}
    rows = []
    for flow in services.store.list_flows():
        runs = {**dict.fromkeys(STATUSES, 0), **statuses.get(flow["id"], {})}
        if flow["live_version"] is None:
            status = "draft"
        else:
            status = "paused" if flow["paused"] else "live"
        rows.append(
            {
                **flow,
                "status": status,
                "runs": runs,
                "deliveries": deliveries.get(flow["id"], 0),
                "pending": pending.get(flow["id"]),
            }
        )
    return rows


def _flow_row(services: Services, flow_id: str) -> dict[str, Any]:
    for row in _flow_rows(services):
        if row["id"] == flow_id:
            return row
    raise NotFound(f"flow `{flow_id}` not found")


def _template_titles() -> list[tuple[str, str]]:
    """(id, name) of each flow template: the new-flow form offers them by name."""
    return [(name, str(load_template(name).get("name") or name)) for name in template_names()]


class PageController(Controller):
    path = ""
    include_in_schema = False

    @get("/lang/{language:str}")
    async def switch_language(
        self, language: FromPath[str], next: FromQuery[str] = "/flows"
    ) -> Response[Any]:
        """The language switch: remembered in a cookie for a year."""
        response = Redirect(safe_next(next), status_code=303)
        if language in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax", path="/")
        return response

    # -- flows ----------------------------------------------------------------------------------------

    @get(["/", "/flows"], guards=[allow(READ)])
    async def flows(self, request: Request[Any, Any, Any]) -> Template:
        rows = await anyio.to_thread.run_sync(_flow_rows, services_of(request))
        context = await page_context(request, flows=rows, templates=_template_titles())
        return Template("pages/flows.html", context=context)

    @post("/flows/new", guards=[allow(WRITE)])
    async def new_flow(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[NewFlowForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """A blank flow opens on an empty canvas (it is stored at its first valid save); a template
        is stored as the new flow's draft at once."""
        services = services_of(request)
        flow_id = data.id.strip()
        if re.fullmatch(FLOW_ID_PATTERN, flow_id) is None:
            raise UserError(
                "id: letters, digits, `_ - .`, starting with a letter or digit (流程 ID 格式不对)"
            )
        if await anyio.to_thread.run_sync(_flow_exists, services, flow_id):
            raise UserError(f"id: a flow `{flow_id}` exists already (流程 ID 已存在)")
        if data.template:
            if data.template not in template_names():
                raise UserError(f"template: no template `{data.template}`")
            document = {**load_template(data.template), "id": flow_id}
            if data.name.strip():
                document["name"] = data.name.strip()
            await anyio.to_thread.run_sync(services.write, services.engine.save_draft, document)
            return Redirect(f"/flows/{flow_id}", status_code=303)
        return Redirect(f"/flows/{flow_id}?name={quote(data.name.strip()[:200])}", status_code=303)

    @post("/flows/{flow_id:str}/pause", guards=[allow(WRITE)])
    async def pause(self, request: Request[Any, Any, Any], flow_id: FlowId) -> Template:
        return await self._set_paused(request, flow_id, True)

    @post("/flows/{flow_id:str}/resume", guards=[allow(WRITE)])
    async def resume(self, request: Request[Any, Any, Any], flow_id: FlowId) -> Template:
        return await self._set_paused(request, flow_id, False)

    async def _set_paused(self, request: Request[Any, Any, Any], flow_id: str, paused: bool) -> Template:
        services = services_of(request)
        await anyio.to_thread.run_sync(services.write, services.engine.set_paused, flow_id, paused)
        row = await anyio.to_thread.run_sync(_flow_row, services, flow_id)
        return Template("pages/flow_row.html", context=await page_context(request, flow=row))

    @get("/flows/{flow_id:str}", guards=[allow(READ)])
    async def editor(
        self, request: Request[Any, Any, Any], flow_id: FlowId, name: FromQuery[str] = ""
    ) -> Template:
        services = services_of(request)
        try:
            record = await anyio.to_thread.run_sync(services.store.get_flow, flow_id)
        except NotFound:
            record = None
        flows = await anyio.to_thread.run_sync(services.store.list_flows)
        if record is None:
            document: dict[str, Any] = {
                "id": flow_id,
                "name": name[:200] or flow_id,
                "nodes": [],
                "edges": [],
            }
            status = "new"
        else:
            document = record.draft
            status = "draft" if record.live_version is None else "paused" if record.paused else "live"
        context = await page_context(
            request,
            flow=with_layout(document),
            flow_id=flow_id,
            status=status,
            live_version=record.live_version if record else None,
            paused=bool(record and record.paused),
        )
        context["page"] = {
            "flow_id": flow_id,
            "exists": record is not None,
            "lang": context["lang"],
            "csrf_token": context["csrf"],
            "csrf_header": CSRF_HEADER,
            "can_write": context["can_write"],
            # Whose figures the live view shows first (GET /api/flows/{id}/stats?version=).
            "live_version": record.live_version if record else None,
            "ports": _dynamic_ports(services, document),
            # A draft saved with problems opens with them listed.
            "problems": await anyio.to_thread.run_sync(_draft_problems, services, document)
            if record is not None
            else [],
            # What a setting that names a flow (`action.start_flow`) may name.
            "flows": [{"id": f["id"], "name": f["name"]} for f in flows],
            # What settings that name groups, staff, tags or content items are offered (DESIGN §15).
            "community": await anyio.to_thread.run_sync(community_choices, services),
        }
        context["messages"] = catalogue(context["lang"])
        return Template("editor.html", context=context)

    @post("/editor/ports", guards=[allow(READ)], status_code=200)
    async def ports(self, request: Request[Any, Any, Any], data: JSONBody[PortsQuery]) -> dict[str, Any]:
        """The ports a node would have with this config (for nodes whose ports depend on it)."""
        return {"ports": node_ports(services_of(request), data.type, data.config)}

    @get("/flows/{flow_id:str}/history", guards=[allow(READ)])
    async def history(self, request: Request[Any, Any, Any], flow_id: FlowId) -> Template:
        services = services_of(request)
        try:
            language = choose_language(request.cookies.get(LANGUAGE_COOKIE))
            versions = await anyio.to_thread.run_sync(_history, services, flow_id, language)
        except NotFound:
            return await _missing(request, "No flow {id}", flow_id)
        record = await anyio.to_thread.run_sync(services.store.get_flow, flow_id)
        rolled_back = request.query_params.get("rolled_back")
        context = await page_context(request, flow=record, versions=versions, rolled_back=rolled_back)
        return Template("pages/history.html", context=context)

    @post("/flows/{flow_id:str}/rollback", guards=[allow(WRITE)])
    async def rollback(self, request: Request[Any, Any, Any], flow_id: FlowId) -> Response[Any]:
        """Publish the version the form names again, as the next version; back to the history."""
        form = await request.form()
        version = str(form.get("version", ""))
        if not version.isdigit() or int(version) < 1:
            raise UserError("version: a published version's number (请选择一个已发布的版本)")
        services = services_of(request)
        published = await anyio.to_thread.run_sync(
            services.write, services.engine.rollback, flow_id, int(version)
        )
        target = f"/flows/{quote(flow_id, safe='')}/history?rolled_back={version}#v{published}"
        if request.headers.get("hx-request"):
            return Response(b"", status_code=204, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)

    # -- runs -----------------------------------------------------------------------------------------

    @get("/runs", guards=[allow(READ)])
    async def runs(
        self,
        request: Request[Any, Any, Any],
        flow: Annotated[str | None, text_filter("flow", "flow id", ANY_TEXT)] = None,
        status: Annotated[str | None, text_filter("status", "run status", ANY_TEXT)] = None,
        member: Annotated[str | None, text_filter("member", "member id or name", ANY_TEXT)] = None,
        offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
    ) -> Template:
        services = services_of(request)
        if status and status not in STATUSES:
            raise UserError(f"status: one of {', '.join(STATUSES)}")
        who = await anyio.to_thread.run_sync(look_up_member, services, member)
        found = await anyio.to_thread.run_sync(
            lambda: (
                []
                if who.which  # several members fit: none of their runs until the operator picks one
                else [
                    RunView.of(r)
                    for r in services.store.runs(
                        flow or None, status or None, who.member_id, RUNS_PAGE, offset
                    )
                ]
            )
        )
        filters = {"flow": flow or "", "status": status or "", "member": who.member_id or who.typed}
        context = await page_context(
            request,
            **await _run_words(request, found),
            runs=found,
            filters=filters,
            who=who,
            statuses=STATUSES,
            offset=offset,
            next_offset=offset + RUNS_PAGE if len(found) == RUNS_PAGE else None,
            failed=FAILED,
        )
        template = "pages/runs_table.html" if request.headers.get("hx-request") else "pages/runs.html"
        return Template(template, context=context)

    @post("/runs/{run_id:int}/retry", guards=[allow(WRITE)])
    async def retry(self, request: Request[Any, Any, Any], run_id: RunId) -> Template:
        services = services_of(request)
        await anyio.to_thread.run_sync(services.write, services.engine.retry, run_id)
        run = await anyio.to_thread.run_sync(_run, services, run_id)
        context = await page_context(request, **await _run_words(request, [run]), run=run, failed=FAILED)
        return Template("pages/run_row.html", context=context)

    @post("/runs/{run_id:int}/remove", guards=[allow(WRITE)])
    async def remove(self, request: Request[Any, Any, Any], run_id: RunId) -> Template:
        """Take the run's member out of its flow (the row again, saying so)."""
        services = services_of(request)
        await anyio.to_thread.run_sync(services.write, services.engine.remove_from_flow, run_id)
        run = await anyio.to_thread.run_sync(_run, services, run_id)
        context = await page_context(request, **await _run_words(request, [run]), run=run, failed=FAILED)
        return Template("pages/run_row.html", context=context)

    # -- members --------------------------------------------------------------------------------------

    @get("/members/{member_id:str}", guards=[allow(READ)])
    async def member(self, request: Request[Any, Any, Any], member_id: MemberId) -> Template:
        services = services_of(request)
        try:
            detail = await anyio.to_thread.run_sync(member_detail, services, member_id)
        except NotFound:
            return await _missing(request, "No member {id}", member_id)
        language = choose_language(request.cookies.get(LANGUAGE_COOKIE))
        lines = await anyio.to_thread.run_sync(_timeline, services, language, member_id, detail.timeline)
        group_names = await anyio.to_thread.run_sync(services.store.group_names, detail.member.groups)
        staff = await anyio.to_thread.run_sync(_staff_name, services, detail.member.staff)
        quota = await anyio.to_thread.run_sync(_mass_send_quota, services, member_id)
        context = await page_context(
            request, detail=detail, lines=lines, group_names=group_names, staff_name=staff, quota=quota
        )
        return Template("pages/member.html", context=context)


def _mass_send_quota(services: Services, member_id: str) -> dict[str, Any] | None:
    """The member's WeCom mass sends in the current period of the corp's limit ("本月已群发 1/1 条"),
    while messages are routed to the WeCom connector; None otherwise."""
    from qunflow.engine.connectors.wecom.ledger import mass_send_usage

    if services.connectors.routes().get("message") != "wecom":
        return None
    try:
        limit = services.connectors.options("wecom").mass_send_limit  # type: ignore[attr-defined]
    except UserError:
        return None
    used, count = mass_send_usage(services.store, member_id, limit.count, limit.per, services.clock.now())
    return {"used": used, "count": count, "per": limit.per}


async def _missing(request: Request[Any, Any, Any], message: str, name: str) -> Template:
    """A page for something that is not there: 404, said in the operator's language, with the way on."""
    context = await page_context(request, message=message, name=name)
    return Template("pages/missing.html", context=context, status_code=HTTP_404_NOT_FOUND)


async def _run_words(request: Request[Any, Any, Any], runs: list[RunView]) -> dict[str, Any]:
    """What a template needs to say runs in words: `names`, `reason(run)` (why it waits) and
    `answer(run)` (the answer a finished run's last node gave, 是/否...)."""
    services = services_of(request)
    language = choose_language(request.cookies.get(LANGUAGE_COOKIE))
    _ = translator(language)
    names = await anyio.to_thread.run_sync(
        lambda: Names.load(
            services,
            language,
            nodes=[(r.flow, r.version, r.node) for r in runs],
            members=[r.member for r in runs],
        )
    )

    def reason(run: Any) -> str | None:
        return wait_reason(run, names, services.registry, _, _when, DISPLAY_TIMEZONE)

    def answer(run: Any) -> str | None:
        if run.status != "done":
            return None
        port = port_taken(services.registry, names.document(run.flow, run.version), run.node)
        return port_words(port, _) if port else None

    return {"names": names, "reason": reason, "answer": answer}


def _timeline(services: Services, language: str, member_id: str, entries: list[Any]) -> list[dict[str, Any]]:
    """The member's timeline in words (see `wording.timeline_lines`), names looked up here."""
    runs = {str(r.id): RunView.of(r) for r in services.store.runs(member_id=member_id, limit=TIMELINE_LIMIT)}
    nodes = [(r.flow, r.version, r.node) for r in runs.values()]
    nodes += [(e.flow, None, e.node) for e in entries if e.kind == "delivery" and e.flow and e.node]
    # A settled delivery's event, and a closed task's, name the node that waited for it.
    named = ("delivery_settled", "task_completed")
    said = [e.data.get("data") or {} for e in entries if e.kind == "event" and e.title in named]
    nodes += [
        (d["flow"], None, d["node"])
        for d in said
        if isinstance(d, dict) and isinstance(d.get("flow"), str) and isinstance(d.get("node"), str)
    ]
    groups = [g for e in entries for g in group_ids(e.data)]
    events = [e.data for e in entries if e.kind == "event"]
    staff = [s for data in events for s in named_ids(data, "staff")]
    channels = [c for data in events for c in named_ids(data, "channel")]
    people = [d["by"] for d in (data.get("data") for data in events) if isinstance(d, dict) and "by" in d]
    names = Names.load(
        services, language, nodes=nodes, groups=groups, staff=staff, channels=channels, people=people
    )
    _ = translator(language)
    return timeline_lines(entries, runs, names, services.registry, _, _when, DISPLAY_TIMEZONE)


def _flow_exists(services: Services, flow_id: str) -> bool:
    try:
        services.store.get_flow(flow_id)
    except NotFound:
        return False
    return True


def _run(services: Services, run_id: int) -> RunView:
    with services.store.engine.connect() as conn:
        return RunView.of(services.store.get_run(conn, run_id))


def _history(services: Services, flow_id: str, language: str) -> list[dict[str, Any]]:
    """Versions newest first, each with what changed from the one before it, in words."""
    record = services.store.get_flow(flow_id)
    found: list[tuple[int | None, int | None, list[Change]]] = []  # (version, previous, changes)
    previous: dict[str, Any] | None = None
    # Every version with its approval record (DESIGN §18): who asked, who decided, when and why.
    entries = services.store.version_history(flow_id)
    for entry in entries:
        document = services.store.version_document(flow_id, entry["version"])
        found.append((entry["version"], found[-1][0] if found else None, flow_changes(previous, document)))
        previous = document
    last = entries[-1]["version"] if entries else None
    found.append((None, last, flow_changes(previous, record.draft) if previous is not None else []))
    nodes = {
        (flow_id, at, change.subject.split(" ")[i])
        for version, before, changes in found
        for change in changes
        for at in (version, before)
        for i in ((0, 2) if change.what.startswith("edge_") else (0,))
        if change.what.startswith(("node_", "edge_"))
    }
    people = [entry[key] for entry in entries for key in ("requested_by", "decided_by")]
    names = Names.load(services, language, nodes=nodes, people=people)
    _ = translator(language)

    def type_title(type_id: str) -> str:
        node_type = services.registry.get(type_id)
        return (node_type.title.get(language) or type_id) if node_type is not None else type_id

    def said(version: int | None, before: int | None, changes: list[Change]) -> list[dict[str, str]]:
        return [change_words(c, names, flow_id, version, before, type_title, _, language) for c in changes]

    records = {entry["version"]: entry for entry in entries}
    versions = [
        {
            "version": version,
            "published_at": iso(records[version].get("published_at")),
            "changes": said(version, before, changes),
            "first": before is None,
            "status": records[version]["status"],
            "requested_by": _person(names, records[version]["requested_by"]),
            "decided_by": _person(names, records[version]["decided_by"]),
            "decided_at": iso(records[version]["decided_at"]),
            "reason": records[version]["reason"],
            "reach": records[version]["reach"],
        }
        for version, before, changes in found[:-1]
    ]
    versions.reverse()
    draft = {
        "version": None,
        "published_at": iso(record.draft_updated_at),
        "changes": said(None, last, found[-1][2]),
        "unpublished": last is None,
        "first": False,
    }
    return [draft, *versions]


def _person(names: Names, who: str | None) -> str | None:
    return names.person(who) if who else None


def _staff_name(services: Any, staff_id: str | None) -> str | None:
    """The owner staff member's name when the staff directory knows it (else the page shows the id)."""
    if staff_id is None:
        return None
    found = services.store.list_staff_by_id([staff_id])
    return found[0].name if found and found[0].name else None


__all__ = ["PageController", "page_context"]
