/* An LD_PRELOAD shim that counts heap allocations, for the zero-allocation scenarios of
 * tests/faults/alloc.rs (built at test time with `cc -shared -fPIC -O2`).
 *
 * Every allocating entry point of glibc's malloc (malloc, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc) adds one to a counter in a file
 * mapped MAP_SHARED, named by ALLOC_COUNT_FILE, which the test reads with read(2) (same page
 * cache) while the process runs; then it hands over to glibc's own `__libc_*` functions. glibc
 * routes its internal allocations (opendir, posix_spawn_file_actions_adddup2, ...) through
 * these interposed symbols too, so they are counted.
 *
 * With ALLOC_TRACE_FILE set, each counted allocation also appends `#N size` and its backtrace
 * (backtrace_symbols_fd, which does not allocate) to that file, to find where an allocation
 * comes from (addresses in the binary resolve with addr2line).
 *
 * The constructor removes LD_PRELOAD from the environment before main, so the process's
 * children (the supervisors) are not counted. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static unsigned long *counter;
static int trace_fd = -1;
static int in_trace;

static void count(size_t size)
{
    if (!counter)
        return;
    unsigned long n = __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
    if (trace_fd < 0 || in_trace)
        return;
    in_trace = 1;
    char line[64];
    int len = snprintf(line, sizeof line, "#%lu %zu\n", n, size);
    if (len > 0 && write(trace_fd, line, (size_t)len) < 0) {
        /* nothing to do: the trace is a debugging aid */
    }
    void *frames[32];
    int depth = backtrace(frames, 32);
    backtrace_symbols_fd(frames, depth, trace_fd);
    in_trace = 0;
}

__attribute__((constructor)) static void alloc_count_init(void)
{
    unsetenv("LD_PRELOAD");
    const char *trace = getenv("ALLOC_TRACE_FILE");
    if (trace) {
        /* backtrace's first call loads libgcc_s, which allocates: do it before counting. */
        void *frames[4];
        backtrace(frames, 4);
        trace_fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
    const char *path = getenv("ALLOC_COUNT_FILE");
    if (!path)
        return;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    void *p = mmap(NULL, sizeof *counter, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p != MAP_FAILED)
        counter = p;
}

void *malloc(size_t size)
{
    count(size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count(n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count(size);
    return __libc_realloc(p, size);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

void *memalign(size_t align, size_t size)
{
    count(size);
    return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    count(size);
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    count(size);
    void *p = __libc_memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    count(size);
    return __libc_valloc(size);
}

void *pvalloc(size_t size)
{
    count(size);
    return __libc_pvalloc(size);
}
