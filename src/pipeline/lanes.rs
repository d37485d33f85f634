//! The delivery side: lane selection, the ticker, one task per lane, retries, spill to the overflow, drain.

use super::*;

impl Lane {
    /// The front event left the queue (call with the queue locked): whether it had been journaled.
    pub(super) fn popped_front(&self) -> bool {
        self.journaled.fetch_update(AcqRel, Acquire, |j| j.checked_sub(1)).is_ok()
    }
}

/// A copy of a live event for the journal (the original stays in its lane). Never on a request thread.
fn journal_copy(env: &Envelope) -> Option<Envelope> {
    match (&env.payload, env.origin) {
        (Payload::Event(e), None) => Some(Envelope {
            payload: Payload::Event(e.clone()),
            ua: env.ua.clone(),
            enqueued_at: env.enqueued_at,
            accepted_unix_ms: env.accepted_unix_ms,
            id: env.id,
            origin: None,
            bytes: env.bytes,
        }),
        _ => None,
    }
}

impl Delivery {
    pub(super) fn lane_of(&self, browser_id: &str) -> usize {
        let n = self.lanes.len();
        if browser_id.is_empty() {
            // No visitor, no order to keep: spread.
            return self.round_robin.fetch_add(1, Relaxed) % n;
        }
        // FNV-1a: a browser id always lands on the same lane.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in browser_id.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        (h % n as u64) as usize
    }

    pub(super) fn release(&self, bytes: usize) {
        self.depth.fetch_sub(1, AcqRel);
        self.bytes.fetch_sub(bytes, AcqRel);
    }

    /// Wakes idle lanes that have work. Runs inside the runtime, where a wake is a local queue push.
    pub(super) async fn run_ticker(self: Arc<Self>) {
        let mut tick = TICK_MIN;
        loop {
            tokio::time::sleep(tick).await;
            if self.closing.load(Acquire) {
                // Shutdown wakes every lane itself and lanes drain without waiting.
                return;
            }
            if !self.pending.swap(false, AcqRel) {
                tick = (tick * 2).min(TICK_MAX);
                continue;
            }
            tick = TICK_MIN;
            if self.overflow.journals() {
                self.journal_tails();
            }
            for lane in self.lanes.iter() {
                if lane.idle.load(Acquire) && !lane.queue.lock().is_empty() && lane.idle.swap(false, AcqRel) {
                    lane.wake.notify_one();
                }
            }
        }
    }

    /// Journal mode: hands copies of every lane's not-yet-journaled events to the journal. The send happens
    /// with the lane locked, so the copy is in the writer's channel before the event can be delivered or spilled.
    fn journal_tails(&self) {
        for lane in self.lanes.iter() {
            let q = lane.queue.lock();
            let from = lane.journaled.load(Acquire);
            if from >= q.len() {
                continue;
            }
            let copies: Vec<Envelope> = q.range(from..).filter_map(journal_copy).collect();
            lane.journaled.store(q.len(), Release);
            if !copies.is_empty() {
                self.overflow.journal(copies);
            }
        }
    }

    pub(super) async fn run_lane(self: Arc<Self>, idx: usize) {
        let lane = &self.lanes[idx];
        let mut abort = self.abort_tx.subscribe();
        let mut jitter = Jitter::new((idx as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ Instant::now().elapsed().as_nanos() as u64);
        loop {
            let next = {
                let mut q = lane.queue.lock();
                let e = q.pop_front();
                let j = e.is_some() && lane.popped_front();
                // Journal mode: reached the head before the ticker copied it; it may retry for long, so it is
                // written ahead now, still under the lock (its copy precedes any settle or spill of it).
                if let Some(copy) = e.as_ref().filter(|_| !j && self.overflow.journals()).and_then(journal_copy) {
                    self.overflow.journal(vec![copy]);
                }
                e
            };
            match next {
                Some(env) => {
                    if *abort.borrow() {
                        self.spill(env, SpillReason::Shutdown);
                        continue;
                    }
                    // Checked when the event reaches the head of its lane, i.e. after every older event of
                    // the same visitor in this lane has finished: if one of them went to the spool, so does this.
                    // The only place a live event is diverted (see `enqueue`).
                    if self.overflow.divert(&env) {
                        self.spill(env, SpillReason::BehindSpooled);
                        continue;
                    }
                    if env.origin.is_none() && self.outage.load(Acquire) && self.overflow.is_durable() && !self.closing.load(Acquire) {
                        self.spill(env, SpillReason::Outage);
                        continue;
                    }
                    self.deliver(env, &mut jitter, &mut abort).await;
                }
                None => {
                    if self.closing.load(Acquire) {
                        return;
                    }
                    lane.idle.store(true, SeqCst);
                    if !lane.queue.lock().is_empty() || self.closing.load(Acquire) {
                        lane.idle.store(false, Release);
                        continue;
                    }
                    lane.wake.notified().await;
                }
            }
        }
    }

    /// The queue is full: `env` (already released) and `evicted` (the lane's oldest, released, under
    /// `dropOldest`) go to the overflow, and so do `env`'s visitor's events still waiting in the lane, ahead of
    /// it in their order. Spilling `env` alone would put it on disk before them: they reach the spool only at the
    /// lane's head, behind it. Runs on the request thread with the lane locked; the spool's `try_spill` neither
    /// blocks nor touches the disk. When refused, the visitor's events go back where they were.
    pub(super) fn spill_queue_full(&self, queue: &mut VecDeque<Envelope>, mut evicted: Vec<Envelope>, env: Envelope) -> bool {
        let n = evicted.len();
        let bid = env.browser_id();
        if !self.overflow.is_durable() || bid.is_empty() || !queue.iter().any(|e| e.origin.is_none() && e.browser_id() == bid) {
            evicted.push(env);
            let taken = self.overflow.spill(evicted, SpillReason::QueueFull);
            if taken {
                self.stats.spilled.fetch_add(n as u64 + 1, Relaxed);
            }
            return taken;
        }
        let mut batch = evicted;
        let mut kept = VecDeque::with_capacity(queue.len());
        let mut mine_at = Vec::with_capacity(queue.len());
        let mut moved_bytes = 0;
        let lane = &self.lanes[self.lane_of(bid)];
        let mark = lane.journaled.load(Acquire);
        let mut kept_mark = 0;
        for (i, e) in queue.drain(..).enumerate() {
            if i < mark && !(e.origin.is_none() && e.browser_id() == bid) {
                kept_mark += 1;
            }
            // Replays stay: they are older than anything of the visitor's the spool takes now.
            let mine = e.origin.is_none() && e.browser_id() == bid;
            mine_at.push(mine);
            if mine {
                moved_bytes += e.bytes;
                batch.push(e);
            } else {
                kept.push_back(e);
            }
        }
        let moved = batch.len() - n;
        batch.push(env);
        match self.overflow.try_spill(batch, SpillReason::QueueFull) {
            Ok(()) => {
                *queue = kept;
                lane.journaled.store(kept_mark, Release);
                // Released only now: until taken they still counted against the queue's bounds.
                self.depth.fetch_sub(moved, AcqRel);
                self.bytes.fetch_sub(moved_bytes, AcqRel);
                self.stats.spilled.fetch_add((n + moved + 1) as u64, Relaxed);
                true
            }
            Err(mut back) => {
                // `back` ends with `the visitor's ++ [env]` (live events all come back): the lane is
                // rebuilt exactly as it was; `env` and `evicted` are lost and counted by the caller.
                back.pop();
                let mut mine = back.split_off(back.len() - moved).into_iter();
                for m in mine_at {
                    let e = if m { mine.next() } else { kept.pop_front() };
                    queue.extend(e);
                }
                false
            }
        }
    }

    pub(super) fn spill(&self, env: Envelope, reason: SpillReason) {
        let bytes = env.bytes;
        let replay = env.origin.is_some();
        let taken = self.overflow.spill(vec![env], reason);
        if !replay {
            // (A replay going back to the spool it came from is not a new spill.)
            self.stats.spilled.fetch_add(1, Relaxed);
            // Whatever leaves a lane once shutdown started is part of the shutdown's account, whatever the reason
            // (an event behind a visitor's spooled one goes to the spool too).
            if reason == SpillReason::Shutdown || self.closing.load(Acquire) {
                self.shutdown_spilled.fetch_add(1, Relaxed);
                if taken {
                    self.shutdown_spooled.fetch_add(1, Relaxed);
                }
            }
        }
        // Last: shutdown reads its report once the queue depth reaches zero, so the counters above must already
        // hold this event (released first, a fast shutdown reported the event as neither sent nor unsent).
        self.release(bytes);
    }

    pub(super) async fn deliver(&self, env: Envelope, jitter: &mut Jitter, abort: &mut watch::Receiver<bool>) {
        let body = match &env.payload {
            Payload::Event(e) => bytes::Bytes::from(self.body.render(e)),
            Payload::Rendered(r) => r.body.clone(),
        };
        let key = env.id.to_header();
        let mut attempt: u32 = 1;
        loop {
            self.stats.in_flight.fetch_add(1, Relaxed);
            let outcome = tokio::select! {
                o = self.transport.send_event(body.clone(), env.user_agent(), Some(&key)) => Some(o),
                _ = abort.wait_for(|a| *a) => None,
            };
            self.stats.in_flight.fetch_sub(1, Relaxed);
            let Some(outcome) = outcome else {
                return self.spill(env, SpillReason::Shutdown);
            };
            match outcome {
                Outcome::Delivered(_) => {
                    self.outage.store(false, Release);
                    self.stats.latency.record(env.enqueued_at.elapsed());
                    self.stats.sent.fetch_add(1, Relaxed);
                    self.overflow.settled(&env);
                    return self.release(env.bytes);
                }
                Outcome::Reject { reason } => {
                    let label = reason.label();
                    log::emit_once(
                        &format!("reject-{label}"),
                        log::Level::Warn,
                        format!("xmcdp: CDP rejected a {} event with {label}; events rejected this way are not retried (see stats.failed_by_reason)", env.event_type()),
                    );
                    PipelineStats::bump(&self.stats.failed, label);
                    self.overflow.settled(&env);
                    return self.release(env.bytes);
                }
                Outcome::Retry { reason, retry_after } => {
                    let label = reason.label();
                    // In outage mode a replay is a probe: one attempt, then back to the spool.
                    let probe = env.origin.is_some() && self.outage.load(Acquire);
                    if attempt >= self.retry.max_attempts || probe {
                        log::emit_once(
                            &format!("exhausted-{label}"),
                            log::Level::Warn,
                            format!("xmcdp: giving up on an event after {attempt} attempts ({label}); it goes to the overflow seam"),
                        );
                        if self.overflow.is_durable() {
                            self.outage.store(true, Release);
                        }
                        if !probe {
                            PipelineStats::bump(&self.stats.failed, format!("retries_exhausted_{label}"));
                        }
                        return self.spill(env, SpillReason::RetriesExhausted);
                    }
                    let wait = backoff::delay(&self.retry, attempt, retry_after, jitter);
                    if self.closing.load(Acquire) {
                        let deadline = *self.close_deadline.lock();
                        if deadline.is_some_and(|d| Instant::now() + wait > d) {
                            return self.spill(env, SpillReason::Shutdown);
                        }
                    }
                    PipelineStats::bump(&self.stats.retried, label);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = abort.wait_for(|a| *a) => return self.spill(env, SpillReason::Shutdown),
                    }
                    attempt += 1;
                }
            }
        }
    }
}
