"""The pages' part of WeCom callbacks (DESIGN §20): the connectors page shows the callback URL to
paste into WeCom's console; a member's page shows their owner staff member by name when known."""

from __future__ import annotations

from test_wecom_callback import StandInWecom

from qunflow.engine.member import MemberRecord, StaffRecord


def test_the_connectors_page_shows_the_callback_url(client, sign_in, services) -> None:
    services.connectors.types.setdefault("wecom", StandInWecom)
    sign_in("admin")
    page = client.get("/admin/connectors")
    assert page.status_code == 200
    assert 'id="qf-wecom-callback-url">http://testserver.local/wecom/callback<' in page.text
    assert "回调地址" in page.text


def test_a_member_page_shows_the_owner_staff_by_name(client, sign_in, services) -> None:
    services.store.put_staff([StaffRecord("zhangsan", "张三")])
    records = [MemberRecord("wm-1", "小林", staff="zhangsan"), MemberRecord("wm-2", "阿强", staff="lisi")]
    services.store.put_members([r.to_member(services.now_us()) for r in records])
    sign_in("viewer")
    page = client.get("/members/wm-1").text
    assert "归属员工" in page and "张三" in page
    assert "lisi" in client.get("/members/wm-2").text  # a staff id the directory does not know
