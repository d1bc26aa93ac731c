/* fanout-reader: N viewer processes for Benchmarks/daemon-fanout.sh.
 *
 *   fanout-reader SOCKET VIEWERS START_US END_US
 *
 * Forks VIEWERS children; each connects to SOCKET, says Hello, subscribes to every store and
 * reads frames until END_US (CLOCK_REALTIME, µs). Events received in [START_US, END_US) are
 * counted, with their latency (receipt time minus the event's own `time` field, both wall clock),
 * the Progress `callbacks` they stand for, and how far each run's index moved (the provider's
 * steps in the window, whether or not a viewer saw each one). The parent merges the children's
 * figures and prints one line of key=value pairs.
 *
 * In C, reading 64 KiB at a time and parsing in place, so that a reader costs a few ns per event
 * and the figures are the sender's, not the reader's. It does not wait for Welcome: a raw
 * baseline sender answers nothing, and the protocol lets a viewer pipeline its requests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Latency buckets: 1 µs up to 1 ms, then 100 µs up to ~1 s. */
#define FINE 1000
#define BUCKETS (FINE + 10000)

struct result {
    uint64_t events, progress, callbacks, steps, bytes;
    uint32_t hist[BUCKETS];
};

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

static void record(struct result *r, uint64_t us) {
    size_t b = us < FINE ? us : FINE + (us - FINE) / 100;
    if (b >= BUCKETS) b = BUCKETS - 1;
    r->hist[b]++;
}

/* Each run's first and latest index in the window. */
#define RUNS 256
static struct { uint64_t run; uint32_t first, last; int used; } runs[RUNS];

static void progress_index(uint64_t run, uint32_t index) {
    for (int i = 0; i < RUNS; i++) {
        if (runs[i].used && runs[i].run == run) {
            if (index > runs[i].last) runs[i].last = index;
            return;
        }
        if (!runs[i].used) {
            runs[i].used = 1;
            runs[i].run = run;
            runs[i].first = runs[i].last = index;
            return;
        }
    }
}

static int connect_to(const char *path) {
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, path, sizeof a.sun_path - 1);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
        close(fd);
        usleep(20000);
    }
    perror("connect");
    exit(1);
}

static void send_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void viewer(const char *path, uint64_t start, uint64_t end, int out) {
    static struct result r;
    int fd = connect_to(path);
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    /* Hello ("SYNC", versions 1...1, client "fanout-reader"), then subscribe to everything. */
    static const uint8_t hello[] = {0, 0, 0, 25, 0, 1, 'S', 'Y', 'N', 'C', 0, 1, 0, 1,
                                    0, 13, 'f', 'a', 'n', 'o', 'u', 't', '-', 'r', 'e', 'a', 'd', 'e', 'r'};
    static const uint8_t subscribe[] = {0, 0, 0, 0x11, 0, 0x40, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    send_all(fd, hello, sizeof hello);
    send_all(fd, subscribe, sizeof subscribe);
    size_t cap = 1 << 20, have = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        uint64_t now = now_us();
        if (now >= end) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int timeout = (int)((end - now) / 1000) + 1;
        if (poll(&p, 1, timeout) <= 0) continue;
        if (cap - have < 65536) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + have, cap - have);
        if (n <= 0) break;
        have += (size_t)n;
        now = now_us();
        int counting = now >= start && now < end;
        if (counting) r.bytes += (uint64_t)n;
        size_t at = 0;
        while (have - at >= 6) {
            uint32_t length = be32(buf + at);
            if (have - at < 4 + (size_t)length) {
                if (4 + (size_t)length > cap) {
                    cap = 4 + (size_t)length + 65536;
                    buf = realloc(buf, cap);
                }
                break;
            }
            uint16_t type = be16(buf + at + 4);
            const uint8_t *f = buf + at + 6;
            if (counting && type >= 0x10 && type <= 0x1f && length >= 2 + 26) {
                r.events++;
                uint64_t time = be64(f + 8);
                record(&r, now > time ? now - time : 0);
                if (type == 0x11) {
                    uint64_t run = be64(f + 16);
                    const uint8_t *q = f + 24;
                    q += 2 + be16(q);                      /* store */
                    uint32_t index = be32(q);
                    q += 8;                                /* index, max */
                    if (*q == 1) q += 3 + be16(q + 1); else q += 1;  /* step */
                    uint32_t callbacks = q + 4 <= buf + at + 4 + length ? be32(q) : 1;
                    r.progress++;
                    r.callbacks += callbacks;
                    progress_index(run, index);
                }
            }
            at += 4 + length;
        }
        memmove(buf, buf + at, have - at);
        have -= at;
    }
    close(fd);
    for (int i = 0; i < RUNS; i++)
        if (runs[i].used) r.steps += runs[i].last - runs[i].first;
    const uint8_t *p = (const uint8_t *)&r;
    for (size_t n = sizeof r, w; n > 0; p += w, n -= w) {
        ssize_t k = write(out, p, n);
        if (k <= 0) break;
        w = (size_t)k;
    }
    _exit(0);
}

static double quantile(const uint64_t *hist, uint64_t total, double q) {
    if (total == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
        seen += hist[b];
        if (seen > want) return b < FINE ? (double)b : FINE + (double)(b - FINE) * 100 + 50;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SOCKET VIEWERS START_US END_US\n", argv[0]);
        return 2;
    }
    int viewers = atoi(argv[2]);
    uint64_t start = strtoull(argv[3], 0, 10), end = strtoull(argv[4], 0, 10);
    int *pipes = calloc((size_t)viewers, sizeof *pipes);
    pid_t *pids = calloc((size_t)viewers, sizeof *pids);
    for (int i = 0; i < viewers; i++) {
        int p[2];
        if (pipe(p) != 0) return 1;
        pids[i] = fork();
        if (pids[i] == 0) {
            close(p[0]);
            viewer(argv[1], start, end, p[1]);
        }
        close(p[1]);
        pipes[i] = p[0];
    }
    static uint64_t hist[BUCKETS];
    static struct result r;
    uint64_t events = 0, progress = 0, callbacks = 0, steps = 0, bytes = 0, min = UINT64_MAX, max = 0, samples = 0;
    int got = 0;
    for (int i = 0; i < viewers; i++) {
        size_t have = 0;
        while (have < sizeof r) {
            ssize_t n = read(pipes[i], (uint8_t *)&r + have, sizeof r - have);
            if (n <= 0) break;
            have += (size_t)n;
        }
        waitpid(pids[i], 0, 0);
        if (have < sizeof r) continue;
        got++;
        events += r.events;
        progress += r.progress;
        callbacks += r.callbacks;
        steps += r.steps;
        bytes += r.bytes;
        if (r.events < min) min = r.events;
        if (r.events > max) max = r.events;
        for (size_t b = 0; b < BUCKETS; b++) {
            hist[b] += r.hist[b];
            samples += r.hist[b];
        }
    }
    double seconds = (double)(end - start) / 1e6;
    if (got == 0) min = 0;
    printf("viewers=%d answered=%d events_total_per_s=%.0f events_per_viewer_per_s=%.0f min_viewer_per_s=%.0f "
           "max_viewer_per_s=%.0f progress_per_viewer_per_s=%.0f callbacks_per_viewer_per_s=%.0f "
           "steps_per_s=%.0f bytes_per_event=%.1f p50_us=%.0f p99_us=%.0f\n",
           viewers, got, events / seconds, got ? events / seconds / got : 0, min / seconds, max / seconds,
           got ? progress / seconds / got : 0, got ? callbacks / seconds / got : 0, got ? steps / seconds / got : 0,
           events ? (double)bytes / (double)events : 0, quantile(hist, samples, 0.5), quantile(hist, samples, 0.99));
    return 0;
}
