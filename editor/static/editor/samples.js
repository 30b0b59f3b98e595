// Sample members and events for a preview, made from the flow's own triggers and waits, so the
// operator can press "Preview" without writing events first (and can edit them in the form before
// running). Groups the community knows keep their names and tags.

const NAMES = ["小林", "阿杰", "Mia", "王芳", "Leo", "陈晨"];
const START = "2026-11-02T10:00:00+08:00";

function at(minutes) {
  const time = new Date(Date.parse(START) + minutes * 60000);
  const local = new Date(time.getTime() + 8 * 3600000).toISOString().slice(0, 19);
  return `${local}+08:00`;
}

function triggerEvent(node, member, index, groups, community) {
  const c = node.config || {};
  const group = c.groups?.[0] || "g-sample";
  if (!groups.some((g) => g.id === group)) {
    const known = (community.groups || []).find((g) => g.id === group);
    groups.push(known ? { id: group, name: known.name || group, tags: known.tags || [] } : { id: group, name: "示例群", tags: c.group_tags || [] });
  }
  const base = { id: `sample-${node.id}-${index}`, member, at: at(index * 5), data: {} };
  switch (node.type) {
    case "trigger.member_joined": return { ...base, type: "member_joined", group, channel: c.channels?.[0] };
    case "trigger.member_left": return { ...base, type: "member_left", group };
    case "trigger.contact_added": return { ...base, type: "contact_added", channel: c.channels?.[0] || "qr-sample",
      data: { staff: c.staff?.[0] || "staff-sample", welcome_code: `sample-code-${index}` } };
    case "trigger.contact_deleted": return { ...base, type: "contact_deleted",
      data: { by: c.by || "customer", staff: c.staff?.[0] || "staff-sample" } };
    case "trigger.message": return { ...base, type: "message", group, data: { text: (c.keywords || ["你好"]).join(" ") } };
    case "trigger.purchase": return { ...base, type: "purchase", data: { amount: Math.max(99, c.min_amount || 0), product: c.products?.[0] || "sample" } };
    case "trigger.event": return { ...base, type: c.event || "custom", data: {} };
    case "trigger.schedule": return null;
    default: return { ...base, type: "member_joined", group };
  }
}

// What a scheduled trigger's audience asks of a member (its tags and first group), so the samples are in it.
function inAudience(flow) {
  const audience = (flow.nodes || []).find((n) => n.type === "trigger.schedule" && n.config?.audience)?.config.audience;
  if (!audience) return {};
  const tags = [...(audience.tags_all || []), ...(audience.tags_any || []).slice(0, 1)];
  return { ...(tags.length ? { tags } : {}), ...(audience.groups?.length ? { groups: [audience.groups[0]] } : {}) };
}

/** {members, events, groups, until, start?} for POST /api/flows/{id}/preview; `community` is the
 * editor's picker data ({groups: [{id, name, tags}], ...}). */
export function sampleInput(flow, community = {}) {
  const events = [];
  const groups = [];
  const profile = inAudience(flow);
  const records = NAMES.map((name, i) => ({ id: `m-sample-${i + 1}`, name, ...structuredClone(profile) }));
  const members = records.map((m) => m.id);
  const triggers = (flow.nodes || []).filter((n) => n.type.startsWith("trigger."));
  for (const node of triggers) {
    members.forEach((member, index) => {
      const event = triggerEvent(node, member, index, groups, community);
      if (event) events.push(Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined)));
    });
  }
  // Half of the members are active (post a message) and do what the waits wait for.
  members.forEach((member, index) => {
    if (index % 2) return;
    const group = groups[0]?.id;
    events.push({ id: `sample-msg-${index}`, type: "message", member, group, at: at(120 + index), data: { text: "👍" } });
    for (const node of (flow.nodes || []).filter((n) => n.type === "wait.for_event" && n.config?.event)) {
      events.push({ id: `sample-${node.id}-${index}`, type: node.config.event, member, at: at(180 + index), data: {} });
    }
  });
  for (const event of events) if (event.group === undefined) delete event.group;
  events.sort((a, b) => a.at.localeCompare(b.at));
  const input = { members: records, events, groups, until: "P7D" };
  // A flow started by its schedule alone has no event to start the clock at.
  if (triggers.some((n) => n.type === "trigger.schedule")) input.start = START;
  return input;
}
