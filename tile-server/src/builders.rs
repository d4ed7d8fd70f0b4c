//! The tile builders: a fixed pool of threads, one per core (at least two), that draw
//! every tile and map (MVT, WMS/WMTS, 3D Tiles, terrain), so that a surge queues instead
//! of time-slicing — and a scheduler in front of them that keeps the queue fair.
//!
//! Threads of their own rather than a semaphore over `spawn_blocking`: under the soak's
//! surge (256 connections on 2 cores) the async workers' run queues were milliseconds
//! long, and a permit was held until its task was polled again after the build, then
//! handed to a waiting task that had to be polled too before it started. Builds took
//! 0.15 ms (p50) while permits were waited for 90–150 ms (p50). A builder thread takes
//! the next job the moment it is done with one.
//!
//! Fairness (the model is GeoServer's control-flow module: limits per request class):
//! - Work comes in two classes, estimated before the build (`Cost`): cheap (tiles,
//!   terrain, 3D Tiles, clicks) and heavy (large maps, tiles that read very many
//!   features). Each class has builder threads of its own: one per core for each lane of
//!   cheap work (below), one fewer for heavy work, so a cheap job waits only for cheap
//!   jobs ahead of it, never for a 4096² map. One FIFO for everything made a z15 tile
//!   wait 23.9 s behind six 4096² GetMaps.
//! - Cheap work waits in one of two lanes by what it usually takes, each with builder
//!   threads of its own (one per core): encodes of a millisecond or less (vector tiles,
//!   terrain, 3D Tiles content, clicks) and drawings of milliseconds to tens of them
//!   (WMTS tiles, small maps, 3D Tiles plans). On one queue a vector tile of 0.5 ms
//!   waited behind QGIS canvases of twelve WMTS tiles (1.9 ms on average, up to 50 ms,
//!   in the 10× surge); in a lane of its own it shares a core with them at once (the
//!   kernel time-slices the lanes' threads), so a burst of renders no longer puts its
//!   whole length in front of it.
//! - Within a lane the queue is served round-robin by client address: with k clients
//!   waiting, each gets every k-th free builder however many requests it sent. A client
//!   may have at most `max_heavy_per_client` heavy jobs queued or running; more are
//!   refused (503) so that one desktop user's batch cannot fill the heavy queue.
//! - A job whose requester went away (the client disconnected, or the request timed
//!   out) is skipped when its turn comes; a map being drawn sees it at its next step
//!   (`Ticket::check`) and stops, as it does past its time limit.
//! - The kernel is told which class matters more (`nice`): heavy builders run at
//!   `HEAVY_NICE`, so a cheap build that arrives while a core draws a map takes that core
//!   at once instead of waiting seconds for the map to end. A queue alone cannot do that:
//!   on two cores a 4096² map held one core for seconds, and the surge's cheap work was
//!   more than the other core could do.
//! - Cheap work is admitted by the wait it can expect: the build times of queued and
//!   running jobs in its lane (smoothed per kind) over the lane's builders. Once that
//!   has stayed past `max_queue_wait` for `overload_grace`, a request is refused at once
//!   (503, Retry-After: 1) rather than answered seconds late — a map client asks again at
//!   its next pan, when the surge may have passed. A burst shorter than the grace (a
//!   map's first load) is queued: a refused tile is a hole the client never fills.

use crate::metrics::BuildMetrics;
pub use crate::work::{BuildKind, Class};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How expensive a build is, known before it starts: the pixels it draws and the
/// features it reads (R-tree counts, nothing read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub pixels: u64,
    pub features: usize,
}

/// Where the line between cheap and heavy lies, and how much heavy work may wait.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Builds drawing more pixels than this are heavy (default 512 × 512: a WMTS tile is
    /// 256², a tiled WMS layer asks 256² or 512², a desktop GIS canvas 1–16 M pixels). A
    /// 1024² map draws for 20–200 ms, a tile for 1–3 ms: under the 10× surge, 1024² maps
    /// classed cheap held the tile builders and cheap work waited 9.9 ms on average.
    pub heavy_pixels: u64,
    /// Builds reading more features than this are heavy (low-zoom composites).
    pub heavy_features: usize,
    /// Heavy jobs waiting at most, over all clients.
    pub max_queued_heavy: usize,
    /// Heavy jobs one client may have queued or running.
    pub max_heavy_per_client: usize,
    /// Longest a cheap job may expect to wait for a builder; beyond it the job is refused.
    /// `None`: queue up to `MAX_QUEUED` whatever the wait.
    pub max_queue_wait: Option<Duration>,
    /// How long a lane's expected wait must have stayed over `max_queue_wait` before its
    /// work is refused. Zero: at once.
    pub overload_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { heavy_pixels: 512 * 512, heavy_features: 50_000, max_queued_heavy: 64, max_heavy_per_client: 8, max_queue_wait: None, overload_grace: Duration::ZERO }
    }
}

impl Limits {
    pub fn class(&self, cost: Cost) -> Class {
        if cost.pixels > self.heavy_pixels || cost.features > self.heavy_features {
            Class::Heavy
        } else {
            Class::Cheap
        }
    }
}

/// Where a job waits and which builder threads draw it (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Cheap work of a millisecond or less.
    Quick,
    /// Cheap work that draws for milliseconds to tens of them.
    Drawn,
    Heavy,
}

impl Lane {
    const ALL: [Lane; 3] = [Lane::Quick, Lane::Drawn, Lane::Heavy];

    fn of(work: &Work) -> Lane {
        match (work.class, work.kind) {
            (Class::Heavy, _) => Lane::Heavy,
            (Class::Cheap, BuildKind::WmtsTile | BuildKind::Map | BuildKind::Plan3d) => Lane::Drawn,
            (Class::Cheap, _) => Lane::Quick,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Lane::Quick => "quick",
            Lane::Drawn => "drawn",
            Lane::Heavy => "heavy",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One build as the scheduler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Work {
    pub kind: BuildKind,
    pub class: Class,
    /// Longest the build may draw for, from its start (maps: `max_render_time_s`).
    pub time_limit: Option<Duration>,
}

impl Work {
    pub fn new(kind: BuildKind, class: Class) -> Work {
        Work { kind, class, time_limit: None }
    }

    pub fn cheap(kind: BuildKind) -> Work {
        Work::new(kind, Class::Cheap)
    }

    pub fn within(self, limit: Duration) -> Work {
        Work { time_limit: Some(limit), ..self }
    }
}

/// Cheap jobs waiting at most; beyond that a request is refused with 503 rather than queued.
pub const MAX_QUEUED: usize = 4096;

/// How much less the kernel favours a heavy builder than the request threads and the cheap
/// builders (nice 0): a weight of 110 against 1024, so a map draws on what cheap work
/// leaves. Only ever raised: lowering a thread's nice value again needs privileges.
const HEAVY_NICE: i32 = 10;

/// What a kind of build is expected to take before it is first measured.
const FIRST_ESTIMATE: Duration = Duration::from_millis(2);

/// Build times by kind, smoothed (an exponential moving average over about the last 16):
/// what a queued job of that kind is expected to hold its builder for.
struct Estimates([AtomicU64; BuildKind::ALL.len()]);

impl Estimates {
    fn new() -> Self {
        Estimates(std::array::from_fn(|_| AtomicU64::new(0)))
    }

    fn nanos(&self, kind: BuildKind) -> u64 {
        match self.0[kind.index()].load(Ordering::Relaxed) {
            0 => FIRST_ESTIMATE.as_nanos() as u64,
            n => n,
        }
    }

    /// Not atomic as a whole: two builders finishing at once may lose one sample.
    fn record(&self, kind: BuildKind, took: Duration) {
        let slot = &self.0[kind.index()];
        let sample = (took.as_nanos() as u64).max(1);
        let old = slot.load(Ordering::Relaxed);
        let new = if old == 0 { sample } else { old - old / 16 + sample / 16 };
        slot.store(new.max(1), Ordering::Relaxed);
    }
}

/// Why a build stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Nobody waits for the result any more.
    Cancelled,
    /// It drew for longer than its time limit.
    TimedOut(Duration),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Cancelled => write!(f, "the client went away"),
            Stop::TimedOut(limit) => write!(f, "drawing took longer than the server allows ({} s, max_render_time_s)", limit.as_secs_f64()),
        }
    }
}

/// What a running build asks, between its steps, whether to go on.
pub struct Ticket {
    cancelled: Arc<AtomicBool>,
    deadline: Option<(Instant, Duration)>,
    stopped: std::cell::Cell<Option<Stop>>,
}

impl Ticket {
    /// `Err` once the requester went away or the time limit passed: stop drawing.
    pub fn check(&self) -> Result<(), Stop> {
        let stop = if self.cancelled.load(Ordering::Relaxed) {
            Some(Stop::Cancelled)
        } else {
            self.deadline.filter(|(at, _)| Instant::now() >= *at).map(|(_, limit)| Stop::TimedOut(limit))
        };
        match stop {
            Some(s) => {
                self.stopped.set(Some(s));
                Err(s)
            }
            None => Ok(()),
        }
    }
}

/// Maps stop at their next drawing step.
impl formosa_encoders::render::Interrupt for Ticket {
    fn stop(&self) -> Option<String> {
        self.check().err().map(|s| s.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the server is busy: {waiting} {class} jobs are waiting to be drawn; retry in a moment")]
    Busy { class: &'static str, waiting: usize },
    #[error("you have {0} large maps queued or being drawn; wait for them before asking for more")]
    ClientShare(usize),
    #[error("drawing failed: {0}")]
    Failed(String),
}

impl BuildError {
    /// Seconds a refused client should wait before trying again.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            BuildError::Busy { class: "heavy", .. } | BuildError::ClientShare(_) => Some(10),
            BuildError::Busy { .. } => Some(1),
            BuildError::Failed(_) => None,
        }
    }
}

tokio::task_local! {
    /// The address of the client a request came from, set around each request by the
    /// router (`server.rs`) so the scheduler can share builders by client.
    pub static CLIENT: IpAddr;
}

fn current_client() -> IpAddr {
    CLIENT.try_with(|c| *c).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// A job draws, and returns how to hand its result over: the builder accounts for the
/// build (metrics, estimates, the queues) first, so a requester that has its answer sees
/// the accounts up to date.
type JobFn = Box<dyn FnOnce(&Ticket) -> Deliver + Send>;
type Deliver = Box<dyn FnOnce() + Send>;

struct Job {
    work: Work,
    client: IpAddr,
    queued_at: Instant,
    /// Its expected build time, counted in `Queues::pending_ns` until it is done.
    estimate_ns: u64,
    cancelled: Arc<AtomicBool>,
    run: JobFn,
}

/// One lane's waiting jobs: a queue per client, and the clients in round-robin order.
#[derive(Default)]
struct ClassQueue {
    turns: VecDeque<IpAddr>,
    by_client: HashMap<IpAddr, VecDeque<Job>>,
    len: usize,
}

impl ClassQueue {
    fn push(&mut self, job: Job) {
        let queue = self.by_client.entry(job.client).or_default();
        if queue.is_empty() {
            self.turns.push_back(job.client);
        }
        queue.push_back(job);
        self.len += 1;
    }

    /// The next client's oldest job; that client goes to the back of the turns.
    fn pop(&mut self) -> Option<Job> {
        let client = self.turns.pop_front()?;
        let queue = self.by_client.get_mut(&client).expect("a client in turn has jobs");
        let job = queue.pop_front().expect("non-empty");
        if queue.is_empty() {
            self.by_client.remove(&client);
        } else {
            self.turns.push_back(client);
        }
        self.len -= 1;
        Some(job)
    }
}

#[derive(Default)]
struct Queues {
    lanes: [ClassQueue; 3],
    /// Heavy jobs queued or running, by client.
    heavy_by_client: HashMap<IpAddr, usize>,
    /// Expected build time of the jobs queued or running, by lane (cheap lanes only).
    pending_ns: [u64; 3],
    /// Since when each lane's expected wait has been over `max_queue_wait`, if it is.
    over_since: [Option<Instant>; 3],
}

impl Queues {
    fn heavy_done(&mut self, client: IpAddr) {
        if let Some(n) = self.heavy_by_client.get_mut(&client) {
            *n -= 1;
            if *n == 0 {
                self.heavy_by_client.remove(&client);
            }
        }
    }
}

struct Scheduler {
    queues: Mutex<Queues>,
    /// One per lane: its builders wait on it for work.
    wake: [Condvar; 3],
    /// Changed when the configuration is reloaded.
    limits: std::sync::RwLock<Limits>,
    estimates: Estimates,
    /// Builder threads by lane.
    threads: [usize; 3],
    metrics: Arc<BuildMetrics>,
}

pub struct Builders {
    scheduler: Arc<Scheduler>,
    /// Quick-lane jobs queued or being drawn.
    quick_in_flight: Arc<AtomicUsize>,
}

impl Builders {
    /// Starts `threads` builders (at least two) for each lane of cheap work and one fewer
    /// of heavy work, at a lower priority (`HEAVY_NICE`): maps never take all the cores
    /// from tiles.
    pub fn new(threads: usize, limits: Limits, metrics: Arc<BuildMetrics>) -> Self {
        let threads = threads.max(2);
        let scheduler = Arc::new(Scheduler {
            queues: Mutex::new(Queues::default()),
            wake: [Condvar::new(), Condvar::new(), Condvar::new()],
            limits: std::sync::RwLock::new(limits),
            estimates: Estimates::new(),
            threads: [threads, threads, threads - 1],
            metrics,
        });
        for lane in Lane::ALL {
            for i in 0..scheduler.threads[lane.index()] {
                let scheduler = scheduler.clone();
                std::thread::Builder::new()
                    .name(format!("{}-builder-{i}", lane.name()))
                    .spawn(move || {
                        if lane == Lane::Heavy {
                            lower_priority(HEAVY_NICE);
                        }
                        scheduler.work(lane)
                    })
                    .expect("spawn a tile builder thread");
            }
        }
        Builders { scheduler, quick_in_flight: Arc::new(AtomicUsize::new(0)) }
    }

    /// The class a build of this cost falls in.
    pub fn class(&self, cost: Cost) -> Class {
        self.scheduler.limits.read().unwrap().class(cost)
    }

    /// New limits (a reloaded configuration), for the jobs queued from now on.
    pub fn set_limits(&self, limits: Limits) {
        *self.scheduler.limits.write().unwrap() = limits;
    }

    pub fn metrics(&self) -> &BuildMetrics {
        &self.scheduler.metrics
    }

    /// Whether a quick-lane builder has nothing to do: then a small job can run where it
    /// was asked for without taking a core from the builders of its kind of work.
    pub fn has_idle(&self) -> bool {
        self.quick_in_flight.load(Ordering::Relaxed) < self.scheduler.threads[Lane::Quick.index()]
    }

    /// Jobs waiting, by class (cheap, heavy).
    pub fn queued(&self) -> [usize; 2] {
        let q = self.scheduler.queues.lock().unwrap();
        [q.lanes[Lane::Quick.index()].len + q.lanes[Lane::Drawn.index()].len, q.lanes[Lane::Heavy.index()].len]
    }

    /// Runs `f` on a builder thread, in its turn, and waits for its result. A panic in
    /// `f` is a `Failed` error for this request only; the thread lives on. Dropping the
    /// returned future (the client went away) cancels the job.
    pub async fn run<T: Send + 'static>(&self, work: Work, f: impl FnOnce(&Ticket) -> T + Send + 'static) -> Result<T, BuildError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let lane = Lane::of(&work);
        let job = Job {
            work,
            client: current_client(),
            queued_at: Instant::now(),
            estimate_ns: self.scheduler.estimates.nanos(work.kind),
            cancelled: cancelled.clone(),
            run: Box::new(move |ticket: &Ticket| {
                let out = catch_unwind(AssertUnwindSafe(|| f(ticket)));
                Box::new(move || {
                    let _ = tx.send(out);
                })
            }),
        };
        self.scheduler.enqueue(job)?;
        let in_flight = (lane == Lane::Quick).then(|| self.quick_in_flight.clone());
        if let Some(n) = &in_flight {
            n.fetch_add(1, Ordering::Relaxed);
        }
        let _leaving = CancelOnDrop { cancelled, in_flight };
        match rx.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(panic)) => {
                let reason = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_else(|| "a panic".into());
                Err(BuildError::Failed(reason))
            }
            Err(_) => Err(BuildError::Failed("the tile builder dropped the job".into())),
        }
    }
}

/// Held by a waiting request: when it goes (answered, or dropped because the client
/// left), its job no longer counts as in flight, and a job not yet done is cancelled.
struct CancelOnDrop {
    cancelled: Arc<AtomicBool>,
    /// The count of quick-lane jobs in flight, for such a job.
    in_flight: Option<Arc<AtomicUsize>>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
        if let Some(n) = &self.in_flight {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Makes the calling thread less favoured by the kernel (Linux: nice values are per
/// thread). Where that is not possible the thread runs at normal priority, and the queue's
/// order alone keeps cheap work first.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id; no memory is shared.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) != 0 {
            tracing::debug!("could not lower a heavy builder's priority: {}", std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

impl Scheduler {
    fn enqueue(&self, job: Job) -> Result<(), BuildError> {
        let (class, lane) = (job.work.class, Lane::of(&job.work));
        let limits = *self.limits.read().unwrap();
        let mut q = self.queues.lock().unwrap();
        let waiting = q.lanes[lane.index()].len;
        let cap = if class == Class::Heavy { limits.max_queued_heavy } else { MAX_QUEUED };
        if waiting >= cap {
            drop(q);
            self.metrics.refused(class, "queue_full");
            return Err(BuildError::Busy { class: class.name(), waiting });
        }
        if class == Class::Cheap {
            if self.overloaded(&mut q, lane, &limits) {
                drop(q);
                self.metrics.refused(class, "expected_wait");
                return Err(BuildError::Busy { class: class.name(), waiting });
            }
            q.pending_ns[lane.index()] += job.estimate_ns;
        }
        if class == Class::Heavy {
            let mine = q.heavy_by_client.entry(job.client).or_default();
            if *mine >= limits.max_heavy_per_client {
                let n = *mine;
                drop(q);
                self.metrics.refused(class, "client_share");
                return Err(BuildError::ClientShare(n));
            }
            *mine += 1;
        }
        q.lanes[lane.index()].push(job);
        drop(q);
        self.wake[lane.index()].notify_one();
        Ok(())
    }

    /// Whether a lane has expected a wait over `max_queue_wait` for longer than the grace:
    /// then it refuses work. The clock starts when the wait first passes the limit and
    /// stops when it falls back under it (`work`, as jobs finish).
    fn overloaded(&self, q: &mut Queues, lane: Lane, limits: &Limits) -> bool {
        let Some(max) = limits.max_queue_wait else { return false };
        let expected_wait = Duration::from_nanos(q.pending_ns[lane.index()] / self.threads[lane.index()] as u64);
        if expected_wait <= max {
            q.over_since[lane.index()] = None;
            return false;
        }
        let since = *q.over_since[lane.index()].get_or_insert_with(Instant::now);
        since.elapsed() >= limits.overload_grace
    }

    /// A builder thread's life: take its lane's next job in turn, run it, account for it.
    fn work(&self, lane: Lane) {
        loop {
            let job = {
                let mut q = self.queues.lock().unwrap();
                loop {
                    if let Some(job) = q.lanes[lane.index()].pop() {
                        break job;
                    }
                    q = self.wake[lane.index()].wait(q).unwrap();
                }
            };
            let Job { work, client, queued_at, estimate_ns, cancelled, run, .. } = job;
            let started = Instant::now();
            let mut deliver = None;
            if cancelled.load(Ordering::Relaxed) {
                // Dropping `run` drops its sender: nobody is listening anyway.
                self.metrics.cancelled(work.class, "queued");
            } else {
                self.metrics.waited(work.class, started - queued_at);
                let ticket = Ticket { cancelled, deadline: work.time_limit.map(|l| (started + l, l)), stopped: Default::default() };
                deliver = Some(run(&ticket));
                match ticket.stopped.get() {
                    Some(Stop::Cancelled) => self.metrics.cancelled(work.class, "running"),
                    Some(Stop::TimedOut(_)) => self.metrics.timed_out(work.kind),
                    None => {}
                }
                let took = started.elapsed();
                self.metrics.built(work.kind, took);
                self.estimates.record(work.kind, took);
            }
            let mut q = self.queues.lock().unwrap();
            match work.class {
                Class::Cheap => {
                    q.pending_ns[lane.index()] = q.pending_ns[lane.index()].saturating_sub(estimate_ns);
                    // A lane's overload clock stops once its wait is back under the limit.
                    if q.over_since[lane.index()].is_some() {
                        let limits = *self.limits.read().unwrap();
                        self.overloaded(&mut q, lane, &limits);
                    }
                }
                Class::Heavy => q.heavy_done(client),
            }
            drop(q);
            if let Some(deliver) = deliver {
                deliver();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> Arc<Builders> {
        Arc::new(Builders::new(threads, Limits::default(), Arc::new(BuildMetrics::detached())))
    }

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panic() {
        let pool = pool(2);
        let cheap = Work::cheap(BuildKind::VectorTile);
        assert_eq!(pool.run(cheap, |_| 6 * 7).await.unwrap(), 42);
        let err = pool.run(cheap, |_| -> u8 { panic!("bad tile") }).await.unwrap_err();
        assert!(err.to_string().contains("bad tile"), "{err}");
        let waiting: Vec<_> = (0..64)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.run(cheap, move |_| i * 2).await.unwrap() })
            })
            .collect();
        let mut sum = 0;
        for w in waiting {
            sum += w.await.unwrap();
        }
        assert_eq!(sum, (0..64).map(|i| i * 2).sum::<i32>());
    }

    /// How long a vector tile waits when it is asked while four jobs of `slow` work (300 ms
    /// each) hold a 2-core pool.
    async fn quick_job_wait_behind(slow: Work) -> Duration {
        let pool = pool(2);
        let busy: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.run(slow, |_| std::thread::sleep(Duration::from_millis(300))).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        pool.run(Work::cheap(BuildKind::VectorTile), |_| ()).await.unwrap();
        let waited = t.elapsed();
        for b in busy {
            b.await.unwrap().unwrap();
        }
        waited
    }

    /// Heavy work never holds the last builder: a cheap job queued behind four slow heavy
    /// ones is done while the first heavy one is still drawing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cheap_work_passes_heavy_work() {
        let waited = quick_job_wait_behind(Work::new(BuildKind::Map, Class::Heavy)).await;
        assert!(waited < Duration::from_millis(200), "the cheap job waited {waited:?}");
    }

    /// Drawn work never holds the quick lane: a vector tile asked after four slow WMTS
    /// tiles (a QGIS canvas) is made while they are still drawing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quick_work_passes_drawn_work() {
        let waited = quick_job_wait_behind(Work::cheap(BuildKind::WmtsTile)).await;
        assert!(waited < Duration::from_millis(200), "the vector tile waited {waited:?}");
    }

    /// Within a class, clients take turns: a second client's one job is not queued behind
    /// the first client's hundred.
    #[test]
    fn clients_take_turns() {
        let mut q = ClassQueue::default();
        let job = |ip: [u8; 4]| Job {
            work: Work::cheap(BuildKind::VectorTile),
            client: IpAddr::from(ip),
            queued_at: Instant::now(),
            estimate_ns: 0,
            cancelled: Arc::default(),
            run: Box::new(|_| Box::new(|| {})),
        };
        for _ in 0..100 {
            q.push(job([10, 0, 0, 1]));
        }
        q.push(job([10, 0, 0, 2]));
        let order: Vec<IpAddr> = (0..4).map(|_| q.pop().unwrap().client).collect();
        assert_eq!(order[1], IpAddr::from([10, 0, 0, 2]), "{order:?}");
        assert_eq!(q.len, 97);
    }

    #[tokio::test]
    async fn a_client_has_a_share_of_the_heavy_queue_and_a_dropped_request_is_skipped() {
        let metrics = Arc::new(BuildMetrics::detached());
        let limits = Limits { max_heavy_per_client: 2, ..Limits::default() };
        let pool = Arc::new(Builders::new(2, limits, metrics.clone()));
        let heavy = Work::new(BuildKind::Map, Class::Heavy);
        let slow = |pool: Arc<Builders>| tokio::spawn(async move { pool.run(heavy, |_| std::thread::sleep(Duration::from_millis(200))).await });
        let (a, b) = (slow(pool.clone()), slow(pool.clone()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let refused = pool.run(heavy, |_| ()).await.unwrap_err();
        assert!(matches!(refused, BuildError::ClientShare(2)), "{refused}");
        assert_eq!(refused.retry_after(), Some(10));
        // b waits behind a on the one heavy builder; dropping it cancels it unbuilt.
        b.abort();
        a.await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(metrics.cancelled_count(Class::Heavy, "queued"), 1);
        // The share is free again.
        pool.run(heavy, |_| ()).await.unwrap();
    }

    #[tokio::test]
    async fn a_build_past_its_time_limit_is_told_to_stop() {
        let metrics = Arc::new(BuildMetrics::detached());
        let pool = Builders::new(2, Limits::default(), metrics.clone());
        let work = Work::new(BuildKind::Map, Class::Heavy).within(Duration::from_millis(30));
        let steps = pool
            .run(work, |ticket| {
                let mut steps = 0;
                while ticket.check().is_ok() {
                    std::thread::sleep(Duration::from_millis(5));
                    steps += 1;
                }
                (steps, ticket.check())
            })
            .await
            .unwrap();
        assert!((3..=10).contains(&steps.0), "{steps:?}");
        assert_eq!(steps.1, Err(Stop::TimedOut(Duration::from_millis(30))));
        assert_eq!(metrics.timed_out_count(BuildKind::Map), 1);
    }

    /// A cheap job that would wait longer than `max_queue_wait` behind the work ahead of it
    /// (known build times over the cheap builders) is refused at once, and admitted again
    /// once that work is done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cheap_work_expecting_a_long_wait_is_refused() {
        let metrics = Arc::new(BuildMetrics::detached());
        let limits = Limits { max_queue_wait: Some(Duration::from_millis(70)), ..Limits::default() };
        let pool = Arc::new(Builders::new(2, limits, metrics.clone()));
        let tile = Work::cheap(BuildKind::Terrain);
        let slow = |pool: Arc<Builders>| tokio::spawn(async move { pool.run(tile, |_| std::thread::sleep(Duration::from_millis(100))).await });
        // Learn that such a build takes 100 ms.
        slow(pool.clone()).await.unwrap().unwrap();
        // Two take both builders (the second expecting 50 ms): 200 ms of work ahead, 100 ms of
        // waiting for the next.
        let running = [slow(pool.clone()), slow(pool.clone())];
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = Instant::now();
        let refused = pool.run(tile, |_| ()).await.unwrap_err();
        assert!(t.elapsed() < Duration::from_millis(30), "refused only after {:?}", t.elapsed());
        assert!(matches!(refused, BuildError::Busy { class: "cheap", .. }), "{refused}");
        assert_eq!(refused.retry_after(), Some(1));
        assert_eq!(metrics.refused_count(Class::Cheap, "expected_wait"), 1);
        // Another kind, not yet measured, is expected to be short but still waits behind
        // the same 200 ms: refused too.
        assert!(pool.run(Work::cheap(BuildKind::VectorTile), |_| ()).await.is_err());
        for r in running {
            r.await.unwrap().unwrap();
        }
        assert_eq!(pool.run(tile, |_| 7).await.unwrap(), 7);
    }

    /// A burst is queued, sustained overload is shed: with a grace of 300 ms, work that
    /// expects too long a wait is still taken while its lane has been over the limit for
    /// less than that (a map's first load), and refused once the lane has stayed over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_is_queued_and_only_sustained_overload_is_refused() {
        let metrics = Arc::new(BuildMetrics::detached());
        let limits = Limits { max_queue_wait: Some(Duration::from_millis(70)), overload_grace: Duration::from_millis(300), ..Limits::default() };
        let pool = Arc::new(Builders::new(2, limits, metrics.clone()));
        let tile = Work::cheap(BuildKind::Terrain);
        let slow = |pool: Arc<Builders>| tokio::spawn(async move { pool.run(tile, |_| std::thread::sleep(Duration::from_millis(100))).await });
        slow(pool.clone()).await.unwrap().unwrap();
        // Seven at once, 350 ms of work on two builders: a burst, every one answered.
        let burst: Vec<_> = (0..7).map(|_| slow(pool.clone())).collect();
        for b in burst {
            b.await.unwrap().unwrap();
        }
        assert_eq!(metrics.refused_count(Class::Cheap, "expected_wait"), 0);
        // Ten more keep the lane over the limit for 400 ms: after the grace, refused.
        let long: Vec<_> = (0..10).map(|_| slow(pool.clone())).collect();
        tokio::time::sleep(Duration::from_millis(350)).await;
        let refused = pool.run(tile, |_| ()).await.unwrap_err();
        assert!(matches!(refused, BuildError::Busy { class: "cheap", .. }), "{refused}");
        assert_eq!(metrics.refused_count(Class::Cheap, "expected_wait"), 1);
        for l in long {
            l.await.unwrap().unwrap();
        }
        // Drained, the clock stops: taken again at once.
        assert_eq!(pool.run(tile, |_| 7).await.unwrap(), 7);
    }
}
