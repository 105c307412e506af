// sanitizer.cpp — device allocations, and memcheck / racecheck / initcheck for checked launches.
//
// The checked variant of every kernel is compiled with -fsanitize=thread (CMakeLists.txt), but no TSan runtime is
// linked: the __tsan_* entry points below are this file's. Each load, store and atomic of kernel code calls one of
// them with its address first; the check classifies the address:
//   - the running fiber's stack: a local variable, not checked;
//   - a checked __shared__ array (section sara_shared; each wrapped in redzones and registered with its name and
//     line on first use, see generate.cmake) or the dynamic shared area (redzones both sides): memcheck against
//     the array, then racecheck/initcheck on its shadow;
//   - a device allocation (sara_emu_malloc; guard pages and redzones in sanitizer mode): memcheck against its bounds;
//   - anything else (host memory a test passes directly, constants): not checked.
// A memcheck finding fails the launch at once with one line naming the check, the kernel, block and thread, the
// array or buffer and the byte range, and abandons the fiber before the access happens (abort_fiber), so the
// block stops there. Racecheck and initcheck findings are reported when the barrier interval ends (see Checked).
//
// Racecheck follows compute-sanitizer's hazards on shared memory: per 4-byte word (per byte once a word is accessed
// in part), the last writer and up to two readers with the barrier interval (epoch) of the access. Two accesses of
// different threads, at least one a write, in the same interval are a hazard unless a warp operation that included
// both threads completed in between (each thread keeps its last 8 warp rendezvous; an access older than that is
// taken as synchronised). Atomics do not race with each other, but do with plain accesses. Initcheck: a read of a
// shared byte no thread of the block has written is reported (the shadow is per block); shared memory is
// NaN-filled at every block start and fresh allocations are NaN-filled in sanitizer mode as well.
#include "sanitizer.h"

#include <dlfcn.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace emu::detail::san
{
namespace
{
// ---- device memory ---------------------------------------------------------------------------------
constexpr std::size_t kPage = 4096;
constexpr std::size_t kRedzone = 256; // CUDA's allocation alignment; the least redzone on each side
constexpr std::size_t kHuge = std::size_t{2} << 20;

std::size_t round_up(std::size_t v, std::size_t q) { return (v + q - 1) / q * q; }

struct Allocation
{
    std::uintptr_t map_lo = 0, map_hi = 0; // the whole range (guard pages and redzones included)
    std::uintptr_t user_lo = 0;
    std::size_t bytes = 0;
    bool guarded = false;
};

bool env_enabled()
{
    const char* v = std::getenv("SARA_EMU_SANITIZE");
    return v && *v && std::strcmp(v, "0") != 0;
}

std::atomic<bool> g_enabled{env_enabled()};
std::mutex g_alloc_mutex;
std::map<std::uintptr_t, Allocation> g_allocs; // keyed by map_lo

const Allocation* lookup_locked(std::uintptr_t a)
{
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return nullptr;
    --it;
    return a < it->second.map_hi ? &it->second : nullptr;
}

// ---- registered shared variables (checked variant) --------------------------------------------------
struct Var
{
    std::uintptr_t beg = 0; // the array (Padded::value)
    std::size_t size = 0;
    std::string name;
    const char* file = "";
    int line = 0;
};
constexpr unsigned char kRegistered = 0x5a; // Padded::head[0] once register_shared has seen the variable

// Shadow of one 4-byte word of shared memory. A word that has seen an access to only part of it is split: its
// four bytes get a cell each (in Shadow::bytes), so threads writing neighbouring bytes or halves never race.
struct Cell
{
    std::uint32_t w_epoch, r_epoch;    // barrier interval of the last write / of the recorded reads (0: none)
    std::uint16_t w_tid, r1, r2;       // linear thread ids (kNone, kAtomicTid)
    std::uint16_t w_sync, r1_sync, r2_sync; // the thread's warp-rendezvous count at the access
    std::uint32_t split;               // 0, or 1 + the index of the word's byte cells
};
constexpr std::uint16_t kNone = 0xffff, kAtomicTid = 0xfffe;

struct Shadow
{
    std::vector<Cell> words;
    std::vector<std::array<Cell, 4>> bytes;
    void reset(std::size_t size_bytes)
    {
        words.assign((size_bytes + 3) / 4, Cell{});
        bytes.clear();
    }
    void clear_epochs()
    {
        for (Cell& c : words) c = Cell{0, 0, 0, 0, 0, 0, 0, 0, c.split};
        for (auto& b : bytes) b.fill(Cell{});
    }
};

struct Section // one image's sara_shared section: the checked __shared__ variables of its kernels
{
    std::uintptr_t lo = 0;
    std::size_t size = 0;
    int module = 0;
    std::vector<int> owner;  // per byte: var index (>= 0), or -(k + 2) in a redzone of var k, -1 elsewhere
    std::vector<Var> vars;
    std::vector<unsigned char> touched; // per var: used by the launch in flight
    Shadow shadow;
};

std::mutex g_registry_mutex;
std::vector<std::unique_ptr<Section>> g_sections;
int g_loading_module = 0;

// ---- the checked launch in flight -------------------------------------------------------------------
constexpr unsigned kHist = 8; // warp rendezvous remembered per thread (a power of two)

struct Buffer
{
    std::uintptr_t map_lo, map_size, user_lo, user_hi;
    std::uintptr_t param_ptr;
    int param; // -1: an allocation the kernel reached without it being a parameter
};

std::uint32_t g_epoch = 0; // global barrier-interval counter: the shadow is never cleared between blocks or launches

struct Checked
{
    const Launch* launch = nullptr;
    std::uintptr_t stacks_lo = 0;
    std::size_t stacks_bytes = 0;
    std::vector<Section*> sections;
    std::uintptr_t dyn_lo = 0, dyn_valid_lo = 0, dyn_valid_hi = 0;
    std::size_t dyn_bytes = 0;
    Shadow dyn_shadow;
    std::vector<Buffer> buffers;
    std::array<std::uintptr_t, 8> unknown_pages{};
    unsigned unknown_next = 0;
    std::vector<std::uint16_t> wsync;
    std::vector<std::array<std::uint32_t, kHist>> hist;
    std::uint32_t block_epoch = 0;
    std::vector<std::pair<Section*, int>> touched; // static arrays the launch has used: refilled at block start
    // Findings of the barrier interval in flight, reported when it ends (a barrier completes, or the block does):
    // the first hazard (racecheck), else the first read of a shared byte no thread had written (initcheck), unless
    // another thread writes that byte in the same interval: then the read raced the write (racecheck), which is
    // what a missing barrier looks like when the reader happens to run first. Reporting at the interval's end lets
    // a barrier reached at two call sites (synccheck, the runtime) win over the races it causes on the way.
    std::string pending_race, pending;

    void access(std::uintptr_t a, std::size_t n, bool write, bool atomic, const void* pc);

private:
    // The per-access path is inlined into access(); the messages are built out of line (cold).
#define SARA_SAN_HOT __attribute__((always_inline)) inline
    SARA_SAN_HOT void shared_static(Section& s, std::uintptr_t a, std::size_t n, bool write, bool atomic, const void* pc);
    void global(std::uintptr_t a, std::size_t n, bool write, const void* pc);
    SARA_SAN_HOT void race(Shadow& sh, std::size_t off, std::size_t n, bool write, bool atomic, const Section* s, const void* pc);
    SARA_SAN_HOT void step(Cell& x, bool write, bool atomic, std::uint16_t t, std::uint16_t st, const Section* s,
        std::size_t off, const void* pc);
    [[noreturn]] __attribute__((noinline, cold)) void shared_oob(Section& s, std::size_t off, std::size_t n, bool write,
        int first, int last, const void* pc);
    __attribute__((noinline, cold)) void uninitialised(const Section* s, std::size_t off, const void* pc);

public:
    /// Fails with the pending initcheck, if any (before a memcheck error its garbage value may have caused).
    [[noreturn]] void fail(const std::string& message);
    bool ordered(std::uint16_t a, std::uint16_t a_sync, std::uint16_t b) const;
    __attribute__((noinline, cold)) void hazard(const char* kind, const char* other_did, std::uint16_t other, const Section* s, std::size_t off,
        const void* pc);
    std::string thread_text(std::uint16_t linear) const;
    std::string place(const Section* s, std::size_t off) const;
};

std::atomic<Checked*> g_active{nullptr};
Checked g_checked;
char* g_dyn_map = nullptr; // kPage redzone, the 227 KiB dynamic area, kPage redzone

const char* base_name(const char* path)
{
    const char* slash = std::strrchr(path, '/');
    return slash ? slash + 1 : path;
}

std::string pc_text(const void* pc)
{
    Dl_info info{};
    if (!dladdr(pc, &info) || !info.dli_fname) return "";
    char buf[64];
    std::snprintf(buf, sizeof buf, "+0x%zx",
        static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(pc) - reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
    return std::string(" [pc ") + base_name(info.dli_fname) + buf + "]";
}

std::string param_name(const KernelEntry* k, int index)
{
    std::string sig = k->signature;
    int i = 0;
    std::size_t start = 0;
    for (;;)
    {
        std::size_t comma = sig.find(',', start);
        std::string piece = sig.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (i == index)
        {
            std::size_t e = piece.find_last_not_of(" \t");
            if (e == std::string::npos) break;
            std::size_t b = e;
            while (b > 0 && (std::isalnum(static_cast<unsigned char>(piece[b - 1])) || piece[b - 1] == '_')) --b;
            return piece.substr(b, e + 1 - b);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
        ++i;
    }
    return "#" + std::to_string(index);
}

std::uint32_t next_epoch()
{
    if (g_epoch >= 0xfffffff0u) // wrap: forget every shadow (accesses before now can no longer race with later ones)
    {
        for (auto& s : g_sections) s->shadow.clear_epochs();
        g_checked.dyn_shadow.clear_epochs();
        g_epoch = 0;
    }
    return ++g_epoch;
}

std::uintptr_t stack_pointer()
{
    std::uintptr_t sp;
#if defined(__x86_64__)
    asm volatile("movq %%rsp, %0" : "=r"(sp));
#else
    sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
    return sp;
}

std::string Checked::thread_text(std::uint16_t linear) const
{
    const uint3 b = launch->block;
    return "(" + std::to_string(linear % b.x) + "," + std::to_string(linear / b.x % b.y) + "," +
        std::to_string(linear / (b.x * b.y)) + ")";
}

std::string Checked::place(const Section* s, std::size_t off) const
{
    if (!s) return "dynamic shared memory + " + std::to_string(off);
    const int o = s->owner[off];
    const Var& v = s->vars[static_cast<std::size_t>(o)];
    return "shared `" + std::string(v.name) + "` + " + std::to_string(v.beg - s->lo <= off ? off - (v.beg - s->lo) : 0) +
        " (" + base_name(v.file) + ":" + std::to_string(v.line) + ")";
}

void Checked::access(std::uintptr_t a, std::size_t n, bool write, bool atomic, const void* pc)
{
    for (Section* s : sections)
        if (a - s->lo < s->size) return shared_static(*s, a, n, write, atomic, pc);
    if (a - dyn_lo < dyn_bytes)
    {
        if (a < dyn_valid_lo || a + n > dyn_valid_hi)
        {
            const auto from = static_cast<long long>(a) - static_cast<long long>(dyn_valid_lo);
            fail("memcheck: out-of-bounds shared " + std::string(write ? "write" : "read") + " in " + current_where() +
                ": bytes [" + std::to_string(from) + ", " + std::to_string(from + static_cast<long long>(n)) + ") of the " +
                std::to_string(dyn_valid_hi - dyn_valid_lo) + "-byte dynamic shared area" + pc_text(pc));
        }
        return race(dyn_shadow, a - dyn_valid_lo, n, write, atomic, nullptr, pc);
    }
    global(a, n, write, pc);
}

void Checked::shared_oob(Section& s, std::size_t off, std::size_t n, bool write, int first, int last, const void* pc)
{
    // The array whose redzone the access hit (or that it starts in and overruns).
    const int k = first >= 0 ? first : first < -1 ? -first - 2 : last >= 0 ? last : last < -1 ? -last - 2 : -1;
    std::string where = "outside every __shared__ array";
    if (k >= 0)
    {
        const Var& v = s.vars[static_cast<std::size_t>(k)];
        const auto from = static_cast<long long>(off) - static_cast<long long>(v.beg - s.lo);
        where = "bytes [" + std::to_string(from) + ", " + std::to_string(from + static_cast<long long>(n)) + ") of `" +
            v.name + "` (" + std::to_string(v.size) + " bytes, " + base_name(v.file) + ":" + std::to_string(v.line) + ")";
    }
    fail("memcheck: out-of-bounds shared " + std::string(write ? "write" : "read") + " in " + current_where() + ": " +
        where + pc_text(pc));
}

void Checked::shared_static(Section& s, std::uintptr_t a, std::size_t n, bool write, bool atomic, const void* pc)
{
    const std::size_t off = a - s.lo;
    const int first = s.owner[off];
    const int last = off + n - 1 < s.size ? s.owner[off + n - 1] : -1;
    if (first < 0 || first != last) shared_oob(s, off, n, write, first, last, pc);
    if (!s.touched[static_cast<std::size_t>(first)])
    {
        s.touched[static_cast<std::size_t>(first)] = 1;
        touched.emplace_back(&s, first);
    }
    race(s.shadow, off, n, write, atomic, &s, pc);
}

bool Checked::ordered(std::uint16_t a, std::uint16_t a_sync, std::uint16_t b) const
{
    if (a / 32 != b / 32) return false;
    const std::uint16_t gap = static_cast<std::uint16_t>(wsync[a] - a_sync);
    if (gap == 0) return false;
    if (gap > kHist) return true;
    for (std::uint16_t k = 1; k <= gap; ++k)
        if ((hist[a][static_cast<std::uint16_t>(a_sync + k) % kHist] >> (b % 32)) & 1u) return true;
    return false;
}

void Checked::hazard(const char* kind, const char* other_did, std::uint16_t other, const Section* s, std::size_t off,
    const void* pc)
{
    if (!pending_race.empty()) return;
    const std::string who = other == kAtomicTid ? "an atomic operation of another thread" : "thread " + thread_text(other);
    pending_race = ("racecheck: " + std::string(kind) + " hazard in " + current_where() + ": it " +
        (kind[0] == 'r' ? "reads " : "writes ") + place(s, off) + ", " + other_did + " by " + who +
        " in the same barrier interval (after " + std::to_string(g_epoch - block_epoch) +
        " __syncthreads of this block) with no barrier or warp synchronisation between them" + pc_text(pc));
}

void Checked::race(Shadow& sh, std::size_t off, std::size_t n, bool write, bool atomic, const Section* s, const void* pc)
{
    const auto t = static_cast<std::uint16_t>(self().linear);
    const std::uint16_t st = wsync[t];
    const std::size_t end = off + n;
    for (std::size_t w = off / 4; w * 4 < end; ++w)
    {
        Cell& c = sh.words[w];
        const std::size_t lo = std::max(off, w * 4), hi = std::min(end, w * 4 + 4);
        if (!c.split && lo == w * 4 && hi == w * 4 + 4)
        {
            step(c, write, atomic, t, st, s, lo, pc);
            continue;
        }
        if (!c.split) // first access to part of this word: from now on its bytes are tracked one by one
        {
            sh.bytes.push_back({c, c, c, c});
            c.split = static_cast<std::uint32_t>(sh.bytes.size());
        }
        auto& b = sh.bytes[c.split - 1];
        for (std::size_t i = lo; i < hi; ++i) step(b[i - w * 4], write, atomic, t, st, s, i, pc);
    }
}

void Checked::uninitialised(const Section* s, std::size_t off, const void* pc)
{
    if (pending.empty())
        pending = "initcheck: " + current_where() + " reads " + place(s, off) +
            ", which no thread of this block has written (uninitialised shared memory)" + pc_text(pc);
}

void Checked::fail(const std::string& message)
{
    abort_fiber(!pending_race.empty() ? pending_race : !pending.empty() ? pending : message);
}

void Checked::step(Cell& x, bool write, bool atomic, std::uint16_t t, std::uint16_t st, const Section* s, std::size_t off,
    const void* pc)
{
    const std::uint32_t e = g_epoch;
    if ((!write || atomic) && x.w_epoch < block_epoch) uninitialised(s, off, pc);
    if (x.w_epoch == e && x.w_tid != t)
    {
        if (x.w_tid == kAtomicTid ? !atomic : !ordered(x.w_tid, x.w_sync, t))
            hazard(write ? "write-after-write" : "read-after-write", "written", x.w_tid, s, off, pc);
    }
    if (write)
    {
        if (x.r_epoch == e)
        {
            if (x.r1 != t && x.r1 != kNone && !ordered(x.r1, x.r1_sync, t)) hazard("write-after-read", "read", x.r1, s, off, pc);
            if (x.r2 != t && x.r2 != kNone && !ordered(x.r2, x.r2_sync, t)) hazard("write-after-read", "read", x.r2, s, off, pc);
        }
        x.w_epoch = e;
        x.w_tid = atomic ? kAtomicTid : t;
        x.w_sync = st;
    }
    else if (!atomic)
    {
        if (x.r_epoch != e)
        {
            x.r_epoch = e;
            x.r1 = t;
            x.r1_sync = st;
            x.r2 = kNone;
        }
        else if (x.r1 == t) x.r1_sync = st;
        else
        {
            x.r2 = t;
            x.r2_sync = st;
        }
    }
}

void Checked::global(std::uintptr_t a, std::size_t n, bool write, const void* pc)
{
    for (int pass = 0; pass < 2; ++pass)
    {
        for (const Buffer& b : buffers)
        {
            if (a - b.map_lo >= b.map_size) continue;
            if (a >= b.user_lo && a + n <= b.user_hi) return;
            const std::size_t size = b.user_hi - b.user_lo;
            const auto from = static_cast<long long>(a - b.user_lo), to = from + static_cast<long long>(n);
            std::string name = b.param >= 0
                ? "buffer `" + param_name(launch->kernel, b.param) + "` (parameter " + std::to_string(b.param) +
                      (b.param_ptr != b.user_lo ? ", which points " + std::to_string(b.param_ptr - b.user_lo) + " bytes into it" : "") + ")"
                : "device allocation that is not one of the kernel's parameters";
            fail("memcheck: out-of-bounds global " + std::string(write ? "write" : "read") + " in " + current_where() +
                ": bytes [" + std::to_string(from) + ", " + std::to_string(to) + ") of the " + std::to_string(size) +
                "-byte " + name + pc_text(pc));
        }
        if (pass == 1) return;
        const std::uintptr_t page = a / kPage;
        for (std::uintptr_t p : unknown_pages)
            if (p == page) return;
        Allocation found;
        {
            std::lock_guard lk(g_alloc_mutex);
            const Allocation* al = lookup_locked(a);
            if (!al)
            {
                unknown_pages[unknown_next++ % unknown_pages.size()] = page;
                return; // host memory the caller passed directly, constants: not device memory, not checked
            }
            found = *al;
        }
        buffers.push_back({found.map_lo, found.map_hi - found.map_lo, found.user_lo, found.user_lo + found.bytes, found.user_lo, -1});
    }
}

__attribute__((always_inline)) inline void check(std::uintptr_t a, std::size_t n, bool write, bool atomic, const void* pc)
{
    Checked* c = g_active.load(std::memory_order_relaxed);
    if (!c) return;
    const std::uintptr_t sp = stack_pointer();
    if (sp - c->stacks_lo >= c->stacks_bytes) return; // not a fiber of the checked launch (static initialisers)
    if (a - c->stacks_lo < c->stacks_bytes) return;   // the fiber's own locals
    c->access(a, n, write, atomic, pc);
}
} // namespace

bool enabled() { return g_enabled.load(std::memory_order_relaxed); }
void set_enabled(bool on) { g_enabled.store(on); }

void* allocate(std::size_t bytes, std::string& error)
{
    Allocation a;
    a.bytes = bytes;
    if (enabled())
    {
        const std::size_t body = round_up(kRedzone + bytes + kRedzone, kPage);
        const std::size_t total = kPage + body + kPage;
        void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
        {
            error = "sara_emu_malloc: out of memory for " + std::to_string(bytes) + " bytes";
            return nullptr;
        }
        auto* base = static_cast<char*>(m);
        mprotect(base, kPage, PROT_NONE);
        mprotect(base + kPage + body, kPage, PROT_NONE);
        a.map_lo = reinterpret_cast<std::uintptr_t>(base);
        a.map_hi = a.map_lo + total;
        a.user_lo = a.map_lo + kPage + kRedzone;
        a.guarded = true;
        std::memset(reinterpret_cast<void*>(a.user_lo), 0xff, bytes); // NaN / -1: reads of unwritten memory show
    }
    else
    {
        const std::size_t align = bytes >= kHuge ? kHuge : kRedzone;
        const std::size_t size = round_up(bytes == 0 ? 1 : bytes, align);
        void* p = std::aligned_alloc(align, size);
        if (!p)
        {
            error = "sara_emu_malloc: out of memory for " + std::to_string(bytes) + " bytes";
            return nullptr;
        }
        // Large buffers ask for transparent huge pages (a hint): rows of big matrices then share TLB entries.
        if (bytes >= kHuge) madvise(p, size, MADV_HUGEPAGE);
        a.map_lo = a.user_lo = reinterpret_cast<std::uintptr_t>(p);
        a.map_hi = a.map_lo + size;
    }
    std::lock_guard lk(g_alloc_mutex);
    g_allocs[a.map_lo] = a;
    return reinterpret_cast<void*>(a.user_lo);
}

bool release(void* p, std::string& error)
{
    Allocation a;
    {
        std::lock_guard lk(g_alloc_mutex);
        const Allocation* al = lookup_locked(reinterpret_cast<std::uintptr_t>(p));
        if (!al || al->user_lo != reinterpret_cast<std::uintptr_t>(p))
        {
            error = "sara_emu_free: not a pointer from sara_emu_malloc";
            return false;
        }
        a = *al;
        g_allocs.erase(a.map_lo);
    }
    if (a.guarded) munmap(reinterpret_cast<void*>(a.map_lo), a.map_hi - a.map_lo);
    else std::free(p);
    return true;
}

bool find_allocation(const void* p, Span& out)
{
    std::lock_guard lk(g_alloc_mutex);
    const Allocation* al = lookup_locked(reinterpret_cast<std::uintptr_t>(p));
    if (!al || reinterpret_cast<std::uintptr_t>(p) < al->user_lo || reinterpret_cast<std::uintptr_t>(p) >= al->user_lo + al->bytes)
        return false;
    out = {al->user_lo, al->bytes};
    return true;
}

void* begin_launch(const Launch& launch, const char* stacks, std::size_t stacks_bytes, unsigned threads)
{
    Checked& c = g_checked;
    {
        std::lock_guard lk(g_registry_mutex);
        c.sections.clear();
        for (auto& s : g_sections) c.sections.push_back(s.get());
    }
    c.launch = &launch;
    c.stacks_lo = reinterpret_cast<std::uintptr_t>(stacks);
    c.stacks_bytes = stacks_bytes;
    c.buffers.clear();
    c.unknown_pages.fill(~std::uintptr_t{0});
    for (unsigned i = 0; i < launch.kernel->params; ++i)
    {
        if (!((launch.kernel->pointer_params >> i) & 1u)) continue;
        const auto p = *static_cast<const std::uintptr_t*>(launch.params[i]);
        std::lock_guard lk(g_alloc_mutex);
        if (const Allocation* al = p ? lookup_locked(p) : nullptr)
            c.buffers.push_back({al->map_lo, al->map_hi - al->map_lo, al->user_lo, al->user_lo + al->bytes, p, static_cast<int>(i)});
    }
    if (!g_dyn_map)
    {
        void* m = mmap(nullptr, kPage + kMaxDynamicShared + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::bad_alloc();
        g_dyn_map = static_cast<char*>(m);
    }
    c.dyn_lo = reinterpret_cast<std::uintptr_t>(g_dyn_map);
    c.dyn_bytes = kPage + kMaxDynamicShared + kPage;
    c.dyn_valid_lo = c.dyn_lo + kPage;
    c.dyn_valid_hi = c.dyn_valid_lo + launch.dynamic_shared;
    if (c.dyn_shadow.words.size() * 4 < launch.dynamic_shared) c.dyn_shadow.reset(kMaxDynamicShared);
    c.wsync.assign(threads, 0);
    c.hist.assign(threads, {});
    c.touched.clear();
    for (Section* s : c.sections) // every static array starts NaN-filled; the ones the launch uses are refilled per block
    {
        for (const Var& v : s->vars) std::memset(reinterpret_cast<void*>(v.beg), 0xff, v.size);
        std::fill(s->touched.begin(), s->touched.end(), 0);
    }
    g_active.store(&c, std::memory_order_relaxed);
    return g_dyn_map + kPage;
}

void begin_block()
{
    Checked& c = g_checked;
    c.block_epoch = next_epoch();
    c.pending.clear();
    c.pending_race.clear();
    for (auto [s, k] : c.touched)
    {
        const Var& v = s->vars[static_cast<std::size_t>(k)];
        std::memset(reinterpret_cast<void*>(v.beg), 0xff, v.size);
    }
    std::memset(reinterpret_cast<void*>(c.dyn_valid_lo), 0xff, c.dyn_valid_hi - c.dyn_valid_lo);
}

std::string barrier_completed()
{
    next_epoch();
    return end_block();
}

std::string end_block() { return !g_checked.pending_race.empty() ? g_checked.pending_race : g_checked.pending; }

void warp_completed(unsigned warp, unsigned group)
{
    Checked& c = g_checked;
    for (unsigned g = group; g; g &= g - 1)
    {
        const unsigned t = warp * 32 + static_cast<unsigned>(__builtin_ctz(g));
        const auto s = ++c.wsync[t];
        c.hist[t][s % kHist] = group;
    }
}

void end_launch() { g_active.store(nullptr, std::memory_order_relaxed); }

void set_loading_module(int module)
{
    std::lock_guard lk(g_registry_mutex);
    g_loading_module = module;
}

void forget_module(int module)
{
    std::lock_guard lk(g_registry_mutex);
    std::erase_if(g_sections, [&](const auto& s) { return s->module == module; });
}
} // namespace emu::detail::san

// ---- registration, called from the generated TUs and the checked kernels --------------------------------
namespace emu
{
bool register_shared_section(const char* begin, const char* end)
{
    using namespace detail::san;
    if (!begin || end <= begin) return false;
    std::lock_guard lk(g_registry_mutex);
    const auto lo = reinterpret_cast<std::uintptr_t>(begin);
    for (auto& s : g_sections)
        if (s->lo == lo) return true; // every checked TU of an image registers the image's one section
    auto s = std::make_unique<Section>();
    s->lo = lo;
    s->size = static_cast<std::size_t>(end - begin);
    s->module = g_loading_module;
    s->owner.assign(s->size, -1);
    s->shadow.reset(s->size);
    g_sections.push_back(std::move(s));
    return true;
}

namespace detail
{
void register_shared(void* padded, std::size_t padded_size, const void* value, std::size_t size, const char* name,
    const char* file, int line)
{
    using namespace san;
    auto* head = static_cast<unsigned char*>(padded);
    if (head[0] == kRegistered) return;
    std::lock_guard lk(g_registry_mutex);
    const auto lo = reinterpret_cast<std::uintptr_t>(padded);
    Section* own = nullptr;
    if (std::none_of(g_sections.begin(), g_sections.end(), [&](const auto& s) { return lo - s->lo < s->size; }))
    {
        // GCC drops the section attribute of a static local in a function template (col_block<V>'s and lr_partial's
        // arrays land in .bss): such an array becomes a section of its own, owned by the module of the kernel
        // running it, and joins the checks of the launch in flight.
        auto sec = std::make_unique<Section>();
        sec->lo = lo;
        sec->size = padded_size;
        const Checked* active = g_active.load(std::memory_order_relaxed);
        sec->module = active && active->launch ? active->launch->kernel->module : g_loading_module;
        sec->owner.assign(sec->size, -1);
        sec->shadow.reset(sec->size);
        own = sec.get();
        g_sections.push_back(std::move(sec));
        if (active) g_checked.sections.push_back(own);
    }
    for (auto& s : g_sections)
    {
        if (lo - s->lo >= s->size) continue;
        const int k = static_cast<int>(s->vars.size());
        s->vars.push_back({reinterpret_cast<std::uintptr_t>(value), size, name, file, line});
        s->touched.push_back(0);
        const std::size_t off = lo - s->lo, beg = reinterpret_cast<std::uintptr_t>(value) - s->lo;
        for (std::size_t b = off; b < off + padded_size && b < s->size; ++b) s->owner[b] = b >= beg && b < beg + size ? k : -k - 2;
        std::memset(const_cast<void*>(value), 0xff, size); // NaN-filled, as at every block start
        break;
    }
    head[0] = kRegistered;
}
} // namespace detail
} // namespace emu

// ---- the ThreadSanitizer callback ABI (GCC -fsanitize=thread, func-entry-exit off) ----------------------
#define SARA_SAN_API extern "C" __attribute__((visibility("default")))

SARA_SAN_API void __tsan_init() {}
SARA_SAN_API void __tsan_func_entry(void*) {}
SARA_SAN_API void __tsan_func_exit() {}

#define SARA_SAN_ACCESS(size)                                                                                        \
    SARA_SAN_API void __tsan_read##size(void* a)                                                                     \
    { emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), size, false, false, __builtin_return_address(0)); } \
    SARA_SAN_API void __tsan_write##size(void* a)                                                                    \
    { emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), size, true, false, __builtin_return_address(0)); }  \
    SARA_SAN_API void __tsan_unaligned_read##size(void* a)                                                           \
    { emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), size, false, false, __builtin_return_address(0)); } \
    SARA_SAN_API void __tsan_unaligned_write##size(void* a)                                                          \
    { emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), size, true, false, __builtin_return_address(0)); } \
    SARA_SAN_API void __tsan_volatile_read##size(void* a)                                                            \
    { emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), size, false, false, __builtin_return_address(0)); } \
    SARA_SAN_API void __tsan_volatile_write##size(void* a)                                                           \
    { emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), size, true, false, __builtin_return_address(0)); }
SARA_SAN_ACCESS(1)
SARA_SAN_ACCESS(2)
SARA_SAN_ACCESS(4)
SARA_SAN_ACCESS(8)
SARA_SAN_ACCESS(16)

SARA_SAN_API void __tsan_read_range(void* a, unsigned long n)
{ if (n) emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), n, false, false, __builtin_return_address(0)); }
SARA_SAN_API void __tsan_write_range(void* a, unsigned long n)
{ if (n) emu::detail::san::check(reinterpret_cast<std::uintptr_t>(a), n, true, false, __builtin_return_address(0)); }

// Atomics: checked as atomic accesses (they do not race with each other), then done for real (sequentially
// consistent, whatever order the kernel asked for: at least as strong).
#define SARA_SAN_CHECK_ATOMIC(p, write)                                                                              \
    emu::detail::san::check(reinterpret_cast<std::uintptr_t>(p), sizeof(*(p)), write, true, __builtin_return_address(0))
#define SARA_SAN_ATOMICS(bits, T)                                                                                    \
    SARA_SAN_API T __tsan_atomic##bits##_load(const volatile T* a, int)                                              \
    { SARA_SAN_CHECK_ATOMIC(a, false); return __atomic_load_n(a, __ATOMIC_SEQ_CST); }                                 \
    SARA_SAN_API void __tsan_atomic##bits##_store(volatile T* a, T v, int)                                           \
    { SARA_SAN_CHECK_ATOMIC(a, true); __atomic_store_n(a, v, __ATOMIC_SEQ_CST); }                                     \
    SARA_SAN_API T __tsan_atomic##bits##_exchange(volatile T* a, T v, int)                                           \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }                           \
    SARA_SAN_API T __tsan_atomic##bits##_fetch_add(volatile T* a, T v, int)                                          \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }                            \
    SARA_SAN_API T __tsan_atomic##bits##_fetch_sub(volatile T* a, T v, int)                                          \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }                            \
    SARA_SAN_API T __tsan_atomic##bits##_fetch_and(volatile T* a, T v, int)                                          \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }                            \
    SARA_SAN_API T __tsan_atomic##bits##_fetch_or(volatile T* a, T v, int)                                           \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                             \
    SARA_SAN_API T __tsan_atomic##bits##_fetch_xor(volatile T* a, T v, int)                                          \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }                            \
    SARA_SAN_API T __tsan_atomic##bits##_fetch_nand(volatile T* a, T v, int)                                         \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST); }                           \
    SARA_SAN_API int __tsan_atomic##bits##_compare_exchange_strong(volatile T* a, T* c, T v, int, int)               \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); } \
    SARA_SAN_API int __tsan_atomic##bits##_compare_exchange_weak(volatile T* a, T* c, T v, int, int)                 \
    { SARA_SAN_CHECK_ATOMIC(a, true); return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); } \
    SARA_SAN_API T __tsan_atomic##bits##_compare_exchange_val(volatile T* a, T c, T v, int, int)                     \
    {                                                                                                                \
        SARA_SAN_CHECK_ATOMIC(a, true);                                                                              \
        __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                            \
        return c;                                                                                                    \
    }
SARA_SAN_ATOMICS(8, std::uint8_t)
SARA_SAN_ATOMICS(16, std::uint16_t)
SARA_SAN_ATOMICS(32, std::uint32_t)
SARA_SAN_ATOMICS(64, std::uint64_t)

SARA_SAN_API void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
SARA_SAN_API void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
