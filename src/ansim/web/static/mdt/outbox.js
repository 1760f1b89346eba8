// The MDT's outbox: status changes and acknowledgements made while the network is away are kept
// (in localStorage, across a reload) and sent in order when it is back. A change never overtakes
// an older one that is still waiting. A change the server refuses is reported and dropped.
const KEY = "ansim.mdt.outbox";

export function createOutbox({ post, changed, sent, refused }) {
  const waiting = () => {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch { return []; }
  };
  const keep = (items) => localStorage.setItem(KEY, JSON.stringify(items));
  let flushing = false;

  return {
    waiting,
    // Sends now, or queues when offline (a fetch that fails without an HTTP status) or behind others.
    async send(change) {
      const before = waiting();
      if (before.length) {
        keep([...before, change]);
        changed();
        return;
      }
      try {
        await post(change);
      } catch (error) {
        if (error.status !== undefined) throw error;
        keep([change]);
        changed();
        return;
      }
      await sent();
    },
    async flush() {
      if (flushing) return;
      flushing = true;
      try {
        for (let queue = waiting(); queue.length; queue = waiting()) {
          const [change, ...rest] = queue;
          try {
            await post(change);
          } catch (error) {
            if (error.status === undefined) return; // still offline
            refused(change, error);
          }
          keep(rest);
        }
        await sent();
      } finally {
        flushing = false;
      }
    },
  };
}
