// runtime.cpp — fibers, the per-block scheduler, __syncthreads, warp rendezvous, synccheck, and the worker pool.
//
// Each worker OS thread runs one block at a time: the block's threads are fibers on that worker, switched
// cooperatively. A fiber runs until it reaches __syncthreads, a warp operation, or its end; the scheduler
// then resumes the next ready fiber, in the launch's schedule order. Barriers count live (not yet returned)
// threads only, and every thread of one barrier must wait at the same call site (synccheck); warp operations
// complete when every live lane named in the mask has arrived, and the lanes must agree on the operation and
// the mask, which must name the calling lane (synccheck). Checked launches report the block's events to
// sanitizer.cpp and run on the calling thread only.
#include "runtime.h"

#include "fiber.h"
#include "sanitizer.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <exception>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace emu::detail
{
namespace
{
constexpr std::uint64_t kCanary = 0x5a5aa5a5c3c33c3cull;
constexpr std::size_t kCanaryWords = 4;
constexpr std::size_t kReserved = kHeaderColors * sizeof(FiberHeader) + 64; // header slots, then the canary
static_assert(kHeaderColors * sizeof(FiberHeader) + kCanaryWords * 8 <= kReserved, "fiber stack header layout");

enum class FiberState : std::uint8_t { Ready, AtBarrier, AtWarpOp, Exited };

struct TrapError : std::runtime_error
{
    TrapError() : std::runtime_error("__trap() called") {}
};

constexpr std::size_t stack_bytes() { return kStackBytes; }

std::string dim_text(uint3 d) { return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")"; }

const char* barrier_name(int kind)
{
    switch (kind)
    {
    case 0: return "__syncthreads_count";
    case 1: return "__syncthreads_and";
    case 2: return "__syncthreads_or";
    default: return "__syncthreads";
    }
}

const char* warp_op_name(WarpOp op)
{
    static const char* const names[] = {"__syncwarp", "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
        "__shfl_xor_sync", "__ballot_sync", "__reduce_add_sync", "__reduce_min_sync", "__reduce_max_sync",
        "__reduce_min_sync", "__reduce_max_sync", "__reduce_and_sync", "__reduce_or_sync", "__reduce_xor_sync",
        "__any_sync", "__all_sync"};
    return names[static_cast<int>(op)];
}

std::string hex_mask(unsigned m)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", m);
    return buf;
}

bool same_site(const char* fa, int la, const char* fb, int lb) { return la == lb && (fa == fb || std::strcmp(fa, fb) == 0); }

std::uint64_t splitmix(std::uint64_t& x)
{
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
} // namespace

std::string site_text(const char* file, int line)
{
    const char* slash = file ? std::strrchr(file, '/') : nullptr;
    return std::string(slash ? slash + 1 : (file ? file : "?")) + ":" + std::to_string(line);
}

bool parse_schedule(std::string_view text, Schedule& out)
{
    if (text == "forward") { out = {Schedule::Forward, 0}; return true; }
    if (text == "reverse") { out = {Schedule::Reverse, 0}; return true; }
    constexpr std::string_view prefix = "shuffle:";
    if (text.substr(0, prefix.size()) != prefix || text.size() == prefix.size()) return false;
    std::uint64_t seed = 0;
    for (char c : text.substr(prefix.size()))
    {
        if (c < '0' || c > '9' || seed > (~0ull - 9) / 10) return false;
        seed = seed * 10 + static_cast<unsigned>(c - '0');
    }
    out = {Schedule::Shuffle, seed};
    return true;
}

std::string schedule_text(const Schedule& s)
{
    switch (s.kind)
    {
    case Schedule::Reverse: return "reverse";
    case Schedule::Shuffle: return "shuffle:" + std::to_string(s.seed);
    default: return "forward";
    }
}

struct Fiber
{
    Context ctx;
    FiberState state = FiberState::Exited;
    uint3 tid{0, 0, 0};
    std::uint64_t result = 0;
};

namespace
{
struct LaneSlot
{
    WarpOp op;
    unsigned mask;
    std::uint64_t value;
    int arg;
    int width;
    const char* file;
    int line;
};

struct Warp
{
    unsigned live = 0;    // lanes that exist and have not returned
    unsigned pending = 0; // lanes waiting in a warp operation
    LaneSlot lane[32];
};

/// One OS thread's execution resources: fiber stacks, the dynamic shared area, and the current block.
class Worker
{
public:
    Worker()
    {
        dynamic_ = static_cast<unsigned char*>(std::aligned_alloc(64, kMaxDynamicShared + 64));
        if (!dynamic_) throw std::bad_alloc();
    }
    ~Worker()
    {
        if (mapping_) munmap(mapping_, mapping_bytes_);
        std::free(dynamic_);
    }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void run_blocks(Launch& launch);

    // Called from fibers (through the kernel-facing API below).
    int barrier(int kind, int predicate, const char* file, int line);
    std::uint64_t warp_op(WarpOp op, unsigned mask, std::uint64_t value, int arg, int width, const char* file, int line);
    unsigned active_mask() const;
    [[noreturn]] void exit_current();
    [[noreturn]] void abort_current(const std::string& message);
    void record_kernel_error(const std::string& what);
    void* dynamic_shared() const { return dynamic_now_; }
    std::string where() const;

private:
    static void fiber_main();
    void prepare(Launch& launch);
    void ensure_stacks(unsigned n);
    void run_block(std::uint64_t linear);
    void release_barrier();
    std::string try_complete(unsigned w);
    void complete(unsigned w, unsigned group);
    void make_order(std::uint64_t block, unsigned round);
    std::uint64_t block_at(std::uint64_t claimed) const;
    std::string deadlock_text() const;
    std::string thread_text(unsigned linear) const { return dim_text(fibers_[linear].tid); }
    void suspend(Fiber& f) { context_switch(f.ctx, scheduler_); }
    Fiber& current() { return *current_; }
    unsigned current_index() const { return static_cast<unsigned>(current_ - fibers_.data()); }
    char* stack_base(unsigned i) const { return stacks_ + static_cast<std::size_t>(i) * stack_bytes(); }
    // Stack i: 64 header slots (one used) and a canary reserved at the bottom, a canary just below the usable range, the stack itself above.
    static std::size_t color(const char* base) { return reinterpret_cast<std::uintptr_t>(base) / kStackBytes % kHeaderColors; }
    FiberHeader& header(unsigned i) { return *reinterpret_cast<FiberHeader*>(stack_base(i) + color(stack_base(i)) * sizeof(FiberHeader)); }
    std::uint64_t* canary(unsigned i) { return reinterpret_cast<std::uint64_t*>(stack_base(i) + kReserved) - kCanaryWords; }

    Launch* launch_ = nullptr;
    bool checked_ = false;
    unsigned threads_ = 0;
    std::vector<Fiber> fibers_;
    std::vector<Warp> warps_;
    void* mapping_ = nullptr;
    std::size_t mapping_bytes_ = 0;
    char* stacks_ = nullptr; // kStackBytes-aligned, stack_capacity_ stacks
    unsigned stack_capacity_ = 0;
    BlockInfo info_{};
    Fiber* current_ = nullptr;
    unsigned char* dynamic_ = nullptr;
    void* dynamic_now_ = nullptr; // dynamic_, or the sanitizer's area (with redzones) in a checked launch
    std::vector<unsigned> order_;  // the schedule: fibers_ indices in the order one round resumes them
    std::uint64_t block_mul_ = 1, block_add_ = 0; // shuffled block order: (mul * claimed + add) mod total
    Context scheduler_;
    unsigned live_ = 0;
    unsigned arrived_ = 0;
    int barrier_acc_ = 0;
    int barrier_kind_ = -1;            // the current barrier generation's call site (synccheck)
    const char* barrier_file_ = nullptr;
    int barrier_line_ = 0;
    unsigned barrier_first_ = 0;
};

void Worker::ensure_stacks(unsigned n)
{
    if (n <= stack_capacity_) return;
    if (mapping_) munmap(mapping_, mapping_bytes_);
    mapping_ = nullptr;
    stacks_ = nullptr;
    stack_capacity_ = 0;
    // One extra stack of room so the stacks can start at a kStackBytes boundary (FiberHeader lookup by rsp).
    const std::size_t bytes = (static_cast<std::size_t>(n) + 1) * stack_bytes();
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    mapping_ = p;
    mapping_bytes_ = bytes;
    auto aligned = (reinterpret_cast<std::uintptr_t>(p) + stack_bytes() - 1) & ~(stack_bytes() - 1);
    stacks_ = reinterpret_cast<char*>(aligned);
    stack_capacity_ = n;
    for (unsigned i = 0; i < n; ++i)
    {
        FiberHeader& h = header(i);
        h.linear = i;
        h.block = &info_;
        h.worker = this;
        for (std::size_t k = 0; k < kCanaryWords; ++k) canary(i)[k] = kCanary;
    }
}

void Worker::prepare(Launch& launch)
{
    launch_ = &launch;
    threads_ = launch.block.x * launch.block.y * launch.block.z;
    ensure_stacks(threads_);
    fibers_.resize(threads_);
    warps_.resize((threads_ + 31) / 32);
    unsigned i = 0;
    for (unsigned z = 0; z < launch.block.z; ++z)
        for (unsigned y = 0; y < launch.block.y; ++y)
            for (unsigned x = 0; x < launch.block.x; ++x)
            {
                header(i).thread_idx = {x, y, z};
                fibers_[i++].tid = {x, y, z};
            }
    info_.block_dim = launch.block;
    info_.grid_dim = launch.grid;
    checked_ = launch.variant == kChecked;
    dynamic_now_ = dynamic_;
    order_.resize(threads_);
    std::iota(order_.begin(), order_.end(), 0u);
    if (launch.schedule.kind == Schedule::Reverse) std::reverse(order_.begin(), order_.end());
    block_mul_ = 1;
    block_add_ = 0;
    if (launch.schedule.kind == Schedule::Shuffle && launch.total_blocks > 1)
    {
        std::uint64_t x = launch.schedule.seed;
        block_add_ = splitmix(x) % launch.total_blocks;
        block_mul_ = (splitmix(x) % launch.total_blocks) | 1u;
        while (std::gcd(block_mul_, launch.total_blocks) != 1) block_mul_ += 2;
    }
}

std::uint64_t Worker::block_at(std::uint64_t claimed) const
{
    const std::uint64_t n = launch_->total_blocks;
    switch (launch_->schedule.kind)
    {
    case Schedule::Reverse: return n - 1 - claimed;
    case Schedule::Shuffle:
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(block_mul_) * claimed + block_add_) % n);
    default: return claimed;
    }
}

void Worker::make_order(std::uint64_t block, unsigned round)
{
    std::uint64_t x = launch_->schedule.seed ^ (block * 0x9e3779b97f4a7c15ull) ^ (static_cast<std::uint64_t>(round) << 40);
    std::iota(order_.begin(), order_.end(), 0u);
    for (unsigned i = threads_; i > 1; --i) std::swap(order_[i - 1], order_[splitmix(x) % i]);
}

void Worker::run_blocks(Launch& launch)
{
    prepare(launch);
    if (checked_)
        dynamic_now_ = san::begin_launch(launch, stacks_, static_cast<std::size_t>(stack_capacity_) * stack_bytes(), threads_);
    for (;;)
    {
        std::uint64_t b = launch.next_block.fetch_add(1, std::memory_order_relaxed);
        if (b >= launch.total_blocks) break;
        if (launch.failed.load(std::memory_order_relaxed)) continue;
        run_block(block_at(b));
    }
    if (checked_) san::end_launch();
}

void Worker::run_block(std::uint64_t linear)
{
    const uint3 g = launch_->grid;
    info_.block_idx = {static_cast<unsigned>(linear % g.x), static_cast<unsigned>((linear / g.x) % g.y),
        static_cast<unsigned>(linear / (static_cast<std::uint64_t>(g.x) * g.y))};
    if (launch_->dynamic_shared && !checked_) std::memset(dynamic_, 0xff, launch_->dynamic_shared); // NaN / -1 poison

    for (unsigned i = 0; i < threads_; ++i)
    {
        Fiber& f = fibers_[i];
        f.state = FiberState::Ready;
        f.result = 0;
        // The stack top is staggered like the header so neighbouring fibers' hot frames use different cache sets.
        const std::size_t stagger = color(stack_base(i)) * 64;
        context_init(f.ctx, stack_base(i) + kReserved, stack_bytes() - kReserved - stagger, &Worker::fiber_main);
    }
    for (unsigned w = 0; w < warps_.size(); ++w)
    {
        unsigned lanes = threads_ - w * 32 >= 32 ? 32 : threads_ - w * 32;
        warps_[w].live = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
        warps_[w].pending = 0;
    }
    live_ = threads_;
    arrived_ = 0;
    if (checked_) san::begin_block();

    const bool shuffled = launch_->schedule.kind == Schedule::Shuffle;
    unsigned round = 0;
    while (live_ > 0 && !launch_->failed.load(std::memory_order_relaxed))
    {
        if (shuffled) make_order(linear, round++);
        bool ran = false;
        for (unsigned i : order_)
        {
            Fiber& f = fibers_[i];
            if (f.state != FiberState::Ready) continue;
            current_ = &f;
            context_switch(scheduler_, f.ctx);
            ran = true;
            if (launch_->failed.load(std::memory_order_relaxed)) break; // this block stops where the failure happened
        }
        if (!ran && live_ > 0)
        {
            launch_->fail(deadlock_text());
            break; // abandoned fibers are re-initialised by the next block
        }
    }
    current_ = nullptr;
    if (checked_ && live_ == 0)
    {
        const std::string error = san::end_block();
        if (!error.empty()) launch_->fail(error);
    }

    // The corruption of an overflow stays inside the (now finished) fiber stacks: fail the launch, re-arm the canary.
    for (unsigned i = 0; i < threads_; ++i)
    {
        std::uint64_t* words = canary(i);
        bool intact = true;
        for (std::size_t k = 0; k < kCanaryWords; ++k) intact = intact && words[k] == kCanary;
        if (intact) continue;
        launch_->fail("fiber stack overflow in block " + dim_text(info_.block_idx) + " thread " + dim_text(fibers_[i].tid) +
            ": each emulated thread has " + std::to_string(stack_bytes() / 1024) + " KiB (rebuild with -DSARA_EMU_STACK_KB=128)");
        for (std::size_t k = 0; k < kCanaryWords; ++k) words[k] = kCanary;
    }
}

void Worker::fiber_main()
{
    Worker* w = static_cast<Worker*>(self().worker);
    try
    {
        const KernelEntry* k = w->launch_->kernel;
        const int v = w->launch_->variant;
        k->invoke[v](k->fn[v], w->launch_->params);
    }
    catch (const std::exception& e) { w->record_kernel_error(e.what()); }
    catch (...) { w->record_kernel_error("unknown exception"); }
    w->exit_current();
}

std::string Worker::where() const
{
    return "kernel " + std::string(launch_->kernel->name) + " block " + dim_text(info_.block_idx) + " thread " + dim_text(current_->tid);
}

std::string Worker::deadlock_text() const
{
    // Who waits where: the barrier's site, and the first warp operation that waits for a lane that never comes.
    unsigned at_barrier = 0, at_warp = 0;
    std::string warp_part;
    for (unsigned i = 0; i < threads_; ++i)
    {
        if (fibers_[i].state == FiberState::AtBarrier) ++at_barrier;
        if (fibers_[i].state != FiberState::AtWarpOp) continue;
        ++at_warp;
        if (!warp_part.empty()) continue;
        const Warp& warp = warps_[i / 32];
        const LaneSlot& s = warp.lane[i % 32];
        const unsigned missing = s.mask & warp.live & ~warp.pending;
        warp_part = "; thread " + thread_text(i) + " waits in " + warp_op_name(s.op) + " (mask " + hex_mask(s.mask) + ", " +
            site_text(s.file, s.line) + ") for lanes " + hex_mask(missing) + " of its warp";
        if (missing)
        {
            const unsigned other = (i / 32) * 32 + static_cast<unsigned>(std::countr_zero(missing));
            const Fiber& o = fibers_[other];
            warp_part += o.state == FiberState::AtBarrier
                ? ", and thread " + thread_text(other) + " waits at " + barrier_name(barrier_kind_) + " (" +
                      site_text(barrier_file_, barrier_line_) + ")"
                : std::string(", which wait in other warp operations");
        }
    }
    std::string text = "synccheck: deadlock in kernel " + std::string(launch_->kernel->name) + " block " +
        dim_text(info_.block_idx) + ": " + std::to_string(at_barrier) + " threads wait at __syncthreads";
    if (at_barrier) text += " (" + site_text(barrier_file_, barrier_line_) + ")";
    return text + " and " + std::to_string(at_warp) + " in warp operations whose mask names lanes that never arrive" + warp_part;
}

void Worker::record_kernel_error(const std::string& what) { launch_->fail(where() + ": " + what); }

void Worker::exit_current()
{
    Fiber& f = current();
    unsigned i = current_index();
    f.state = FiberState::Exited;
    --live_;
    warps_[i / 32].live &= ~(1u << (i % 32));
    if (arrived_ > 0 && arrived_ == live_) release_barrier();
    const std::string error = try_complete(i / 32);
    if (!error.empty()) launch_->fail(error);
    suspend(f);
    std::abort(); // an exited fiber is never resumed
}

void Worker::abort_current(const std::string& message)
{
    Fiber& f = current();
    launch_->fail(message);
    f.state = FiberState::Exited; // the block stops: the scheduler sees the failure as soon as this fiber yields
    suspend(f);
    std::abort(); // an abandoned fiber is never resumed
}

void Worker::release_barrier()
{
    for (unsigned i = 0; i < threads_; ++i)
    {
        Fiber& f = fibers_[i];
        if (f.state != FiberState::AtBarrier) continue;
        f.state = FiberState::Ready;
        f.result = static_cast<std::uint64_t>(barrier_acc_);
    }
    arrived_ = 0;
    if (checked_)
    {
        const std::string error = san::barrier_completed();
        if (!error.empty()) launch_->fail(error);
    }
}

int Worker::barrier(int kind, int predicate, const char* file, int line)
{
    Fiber& f = current();
    if (arrived_ == 0)
    {
        barrier_acc_ = kind == 1 ? 1 : 0;
        barrier_kind_ = kind;
        barrier_file_ = file;
        barrier_line_ = line;
        barrier_first_ = current_index();
    }
    else if (kind != barrier_kind_ || !same_site(file, line, barrier_file_, barrier_line_))
    {
        abort_current("synccheck: divergent barrier in " + where() + ": it waits at " + barrier_name(kind) + " (" +
            site_text(file, line) + ") while thread " + thread_text(barrier_first_) + " waits at " +
            barrier_name(barrier_kind_) + " (" + site_text(barrier_file_, barrier_line_) +
            "); every live thread of a block must reach the same barrier");
    }
    if (kind == 0) barrier_acc_ += predicate != 0;
    else if (kind == 1) barrier_acc_ = barrier_acc_ && predicate != 0;
    else if (kind == 2) barrier_acc_ = barrier_acc_ || predicate != 0;
    ++arrived_;
    f.state = FiberState::AtBarrier;
    if (arrived_ == live_) release_barrier();
    suspend(f); // also when this thread completed the barrier: the schedule decides who runs first after it
    return static_cast<int>(f.result);
}

std::uint64_t Worker::warp_op(WarpOp op, unsigned mask, std::uint64_t value, int arg, int width, const char* file, int line)
{
    Fiber& f = current();
    unsigned i = current_index();
    unsigned w = i / 32, lane = i % 32;
    if (!((mask >> lane) & 1u))
        abort_current("synccheck: " + std::string(warp_op_name(op)) + " in " + where() + " (" + site_text(file, line) +
            "): its mask " + hex_mask(mask) + " omits the calling lane " + std::to_string(lane));
    Warp& warp = warps_[w];
    warp.lane[lane] = {op, mask, value, arg, width, file, line};
    warp.pending |= 1u << lane;
    f.state = FiberState::AtWarpOp;
    const std::string error = try_complete(w);
    if (!error.empty()) abort_current(error);
    suspend(f); // as at a barrier: the schedule orders the lanes after the rendezvous too
    return f.result;
}

unsigned Worker::active_mask() const { return warps_[current_index() / 32].live; }

// A rendezvous completes when every live lane its mask names is waiting (lanes that returned are left out, as CUDA
// does for exited threads); the lanes must agree on the operation and the mask. Returns a synccheck message or "".
std::string Worker::try_complete(unsigned w)
{
    Warp& warp = warps_[w];
    bool progress = true;
    while (progress && warp.pending)
    {
        progress = false;
        for (unsigned p = warp.pending; p; p &= p - 1)
        {
            unsigned l = static_cast<unsigned>(std::countr_zero(p));
            const LaneSlot& s = warp.lane[l];
            unsigned group = s.mask & warp.live;
            if ((group & ~warp.pending) != 0) continue;
            for (unsigned g = group; g; g &= g - 1)
            {
                const LaneSlot& o = warp.lane[std::countr_zero(g)];
                if (o.op == s.op && o.mask == s.mask && o.width == s.width) continue;
                return "synccheck: in kernel " + std::string(launch_->kernel->name) + " block " + dim_text(info_.block_idx) +
                    " lanes " + std::to_string(l) + " and " + std::to_string(std::countr_zero(g)) + " of warp " +
                    std::to_string(w) + " meet in different warp operations: " + warp_op_name(s.op) + " (mask " +
                    hex_mask(s.mask) + ", " + site_text(s.file, s.line) + ") and " + warp_op_name(o.op) + " (mask " +
                    hex_mask(o.mask) + ", " + site_text(o.file, o.line) + ")";
            }
            complete(w, group);
            warp.pending &= ~group;
            progress = true;
            break;
        }
    }
    return "";
}

// Source lane of a shuffle, as PTX shfl.sync defines it (c = ((32 - width) << 8) | clamp); -1 keeps the own value.
int shuffle_source(WarpOp op, int lane, int arg, int width)
{
    const int seg = (32 - width) & 31;
    const int b = arg & 31;
    const int max_down = (lane & seg) | (31 & ~seg);
    int j;
    switch (op)
    {
    case WarpOp::ShflUp: j = lane - b; return j >= (lane & seg) ? j : -1;
    case WarpOp::ShflDown: j = lane + b; return j <= max_down ? j : -1;
    case WarpOp::ShflXor: j = lane ^ b; return j <= max_down ? j : -1;
    default: j = (lane & seg) | (b & ~seg); return j <= max_down ? j : -1;
    }
}

void Worker::complete(unsigned w, unsigned group)
{
    Warp& warp = warps_[w];
    unsigned ballot = 0;
    for (unsigned g = group; g; g &= g - 1)
    {
        unsigned k = static_cast<unsigned>(std::countr_zero(g));
        if (warp.lane[k].value != 0) ballot |= 1u << k;
    }
    for (unsigned g = group; g; g &= g - 1)
    {
        const unsigned j = static_cast<unsigned>(std::countr_zero(g));
        const LaneSlot& s = warp.lane[j];
        const unsigned named = s.mask & group;
        std::uint64_t r = 0;
        auto reduce = [&](auto init, auto f) {
            auto acc = init;
            for (unsigned m = named; m; m &= m - 1)
                acc = f(acc, static_cast<decltype(init)>(warp.lane[std::countr_zero(m)].value));
            return static_cast<std::uint64_t>(static_cast<std::uint32_t>(acc));
        };
        switch (s.op)
        {
        case WarpOp::Sync: break;
        case WarpOp::ShflIdx:
        case WarpOp::ShflUp:
        case WarpOp::ShflDown:
        case WarpOp::ShflXor: {
            int src = shuffle_source(s.op, static_cast<int>(j), s.arg, s.width);
            // A source outside the range keeps the own value (CUDA); an inactive source is undefined: own value too.
            r = (src >= 0 && ((group >> src) & 1u)) ? warp.lane[src].value : s.value;
            break;
        }
        case WarpOp::Ballot: r = ballot & s.mask; break;
        case WarpOp::Any: r = (ballot & s.mask) != 0; break;
        case WarpOp::All: r = (ballot & named) == named; break;
        case WarpOp::ReduceAdd: r = reduce(0u, [](unsigned a, unsigned b) { return a + b; }); break;
        case WarpOp::ReduceMin: r = reduce(INT_MAX, [](int a, int b) { return a < b ? a : b; }); break;
        case WarpOp::ReduceMax: r = reduce(INT_MIN, [](int a, int b) { return a > b ? a : b; }); break;
        case WarpOp::ReduceMinU: r = reduce(0xffffffffu, [](unsigned a, unsigned b) { return a < b ? a : b; }); break;
        case WarpOp::ReduceMaxU: r = reduce(0u, [](unsigned a, unsigned b) { return a > b ? a : b; }); break;
        case WarpOp::ReduceAnd: r = reduce(0xffffffffu, [](unsigned a, unsigned b) { return a & b; }); break;
        case WarpOp::ReduceOr: r = reduce(0u, [](unsigned a, unsigned b) { return a | b; }); break;
        case WarpOp::ReduceXor: r = reduce(0u, [](unsigned a, unsigned b) { return a ^ b; }); break;
        }
        Fiber& f = fibers_[w * 32 + j];
        f.result = r;
        f.state = FiberState::Ready;
    }
    if (checked_) san::warp_completed(w, group);
}

/// The caller plus (threads - 1) helper threads that sleep until a launch is published.
class Pool
{
public:
    Pool() { start(default_threads()); }

    static int default_threads()
    {
        unsigned n = std::thread::hardware_concurrency();
        return n == 0 ? 1 : static_cast<int>(n);
    }

    void run(Launch& launch)
    {
        std::lock_guard launch_lock(launch_mutex_);
        // A checked launch runs on the caller only: its __shared__ variables exist once (sanitizer.cpp).
        bool helpers = launch.total_blocks > 1 && !helpers_.empty() && launch.variant == kFast;
        if (helpers)
        {
            std::lock_guard lk(mutex_);
            current_ = &launch;
            ++generation_;
            cv_work_.notify_all();
        }
        participate(launch);
        if (helpers)
        {
            std::unique_lock lk(mutex_);
            current_ = nullptr;
            cv_done_.wait(lk, [&] { return launch.active_helpers == 0; });
        }
    }

    void resize(int n)
    {
        std::lock_guard launch_lock(launch_mutex_);
        stop();
        start(n <= 0 ? default_threads() : n);
    }

    int threads() const { return threads_.load(); }

private:
    static void participate(Launch& launch)
    {
        thread_local std::unique_ptr<Worker> worker;
        try
        {
            if (!worker) worker = std::make_unique<Worker>();
            worker->run_blocks(launch);
        }
        catch (const std::bad_alloc&)
        {
            launch.fail("out of memory for fiber stacks or the dynamic shared area");
            launch.next_block.store(launch.total_blocks);
        }
    }

    void start(int n)
    {
        threads_ = n;
        stopping_ = false;
        for (int i = 1; i < n; ++i) helpers_.emplace_back([this] { helper_loop(); });
    }

    void stop()
    {
        {
            std::lock_guard lk(mutex_);
            stopping_ = true;
            cv_work_.notify_all();
        }
        for (auto& t : helpers_) t.join();
        helpers_.clear();
    }

    void helper_loop()
    {
        std::uint64_t seen = generation_at_start();
        std::unique_lock lk(mutex_);
        for (;;)
        {
            cv_work_.wait(lk, [&] { return stopping_ || (current_ != nullptr && seen != generation_); });
            if (stopping_) return;
            seen = generation_;
            Launch* launch = current_;
            ++launch->active_helpers;
            lk.unlock();
            participate(*launch);
            lk.lock();
            if (--launch->active_helpers == 0) cv_done_.notify_all();
        }
    }

    std::uint64_t generation_at_start()
    {
        std::lock_guard lk(mutex_);
        return generation_;
    }

    std::mutex launch_mutex_; // one grid at a time
    std::mutex mutex_;
    std::condition_variable cv_work_, cv_done_;
    std::vector<std::thread> helpers_;
    Launch* current_ = nullptr;
    std::uint64_t generation_ = 0;
    bool stopping_ = false;
    std::atomic<int> threads_{1};
};

Pool& pool()
{
    static Pool* p = new Pool(); // leaked on purpose: no joins during process exit
    return *p;
}
} // namespace

void Launch::fail(const std::string& message)
{
    std::lock_guard lk(error_mutex);
    if (!failed.exchange(true)) error = message;
}

void run_grid(Launch& launch) { pool().run(launch); }
void set_worker_threads(int n) { pool().resize(n); }
int worker_threads() { return pool().threads(); }

// ---- kernel-facing entry points (declared in emu.h) ------------------------------------------------
namespace
{
Worker& self_worker() { return *static_cast<Worker*>(self().worker); }
} // namespace

int syncthreads_reduce(int kind, int predicate, const char* file, int line)
{
    return self_worker().barrier(kind, predicate, file, line);
}
std::uint64_t warp_op(WarpOp op, unsigned mask, std::uint64_t value, int arg, int width, const char* file, int line)
{
    return self_worker().warp_op(op, mask, value, arg, width, file, line);
}
std::string current_where() { return self_worker().where(); }
void abort_fiber(const std::string& message) { self_worker().abort_current(message); }
unsigned active_mask() { return self_worker().active_mask(); }
void trap() { throw TrapError(); }
} // namespace emu::detail

namespace emu
{
void* dynamic_shared() { return static_cast<detail::Worker*>(detail::self().worker)->dynamic_shared(); }
} // namespace emu
