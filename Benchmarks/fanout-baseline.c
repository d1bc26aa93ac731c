/* fanout-baseline: the raw fan-out Benchmarks/daemon-fanout.sh compares syncd with.
 *
 *   fanout-baseline SOCKET VIEWERS STORES RATE END_US
 *
 * Listens on SOCKET, accepts VIEWERS connections (fanout-reader's; their Hello and Subscribe are
 * read and ignored), then until END_US (CLOCK_REALTIME, µs) makes Progress frames laid out as
 * syncd's (same header, store names "floodNN"/"pacedNN", step text "item N", callbacks 1), round
 * robin over STORES stores, and writes each batch of them to every viewer over non-blocking
 * sockets with one epoll loop: what a minimal hand-written fan-out does. RATE 0: as fast as it
 * can, in batches of 1024 frames (syncd's largest batch); RATE > 0: that many frames a second in
 * all, each written when it is due. A viewer whose socket is full is waited for (epoll, EPOLLOUT):
 * the baseline drops nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint8_t *put32(uint8_t *p, uint32_t v) {
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
    return p + 4;
}
static uint8_t *put16(uint8_t *p, uint16_t v) {
    p[0] = v >> 8; p[1] = v;
    return p + 2;
}
static uint8_t *put64(uint8_t *p, uint64_t v) { return put32(put32(p, v >> 32), (uint32_t)v); }

static uint64_t seq = 1;
static uint32_t *indices;
static const char *prefix;

/* One Progress frame as syncd encodes it (docs/PROTOCOL.md §4.4). */
static size_t progress(uint8_t *out, int store) {
    char name[16], step[24];
    int nl = snprintf(name, sizeof name, "%s%02d", prefix, store + 1);
    uint32_t index = ++indices[store];
    int sl = snprintf(step, sizeof step, "item %u", index);
    uint8_t *p = out + 6;
    p = put64(p, seq++);
    p = put64(p, now_us());
    p = put64(p, (uint64_t)store + 1);
    p = put16(p, (uint16_t)nl);
    memcpy(p, name, (size_t)nl); p += nl;
    p = put32(p, index);
    p = put32(p, 0x7fffffff);
    *p++ = 1;
    p = put16(p, (uint16_t)sl);
    memcpy(p, step, (size_t)sl); p += sl;
    p = put32(p, 1);
    size_t length = (size_t)(p - out);
    put32(out, (uint32_t)(length - 4));
    put16(out + 4, 0x11);
    return length;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s SOCKET VIEWERS STORES RATE END_US\n", argv[0]);
        return 2;
    }
    int viewers = atoi(argv[2]), stores = atoi(argv[3]);
    double rate = atof(argv[4]);
    uint64_t end = strtoull(argv[5], 0, 10);
    prefix = rate > 0 ? "paced" : "flood";
    indices = calloc((size_t)stores, sizeof *indices);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    unlink(argv[1]);
    if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(listener, 256) != 0) {
        perror("listen");
        return 1;
    }
    int *fds = calloc((size_t)viewers, sizeof *fds);
    size_t *sent = calloc((size_t)viewers, sizeof *sent);
    int ep = epoll_create1(0);
    for (int i = 0; i < viewers; i++) {
        fds[i] = accept(listener, 0, 0);
        int size = 4 << 20;
        setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    uint8_t *batch = malloc(1024 * 128);
    struct epoll_event events[256];
    uint64_t start = now_us(), made = 0;
    int store = 0;
    while (now_us() < end) {
        size_t length = 0;
        if (rate > 0) {
            /* Sleep until the next frame is due, then write every frame due by now. */
            uint64_t due = start + (uint64_t)((double)made * 1e6 / rate);
            uint64_t now = now_us();
            if (due > now) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(due - now) * 1000};
                nanosleep(&ts, 0);
                now = now_us();
            }
            while (length < 1024 * 64 && start + (uint64_t)((double)made * 1e6 / rate) <= now) {
                length += progress(batch + length, store);
                store = (store + 1) % stores;
                made++;
            }
        } else {
            for (int k = 0; k < 1024; k++) {
                length += progress(batch + length, store);
                store = (store + 1) % stores;
                made++;
            }
        }
        /* Everyone gets the batch. (The viewers' Hello and Subscribe stay unread: nothing to answer.) */
        int pending = 0;
        for (int i = 0; i < viewers; i++) {
            sent[i] = 0;
            ssize_t w = send(fds[i], batch, length, MSG_NOSIGNAL);
            if (w > 0) sent[i] = (size_t)w;
            if (sent[i] < length) pending++;
        }
        while (pending > 0 && now_us() < end) {
            int n = epoll_wait(ep, events, 256, 100);
            if (n == 0) {
                /* An edge missed between a short write and the wait: try everyone still owed. */
                for (int i = 0; i < viewers; i++) {
                    if (sent[i] >= length) continue;
                    ssize_t w = send(fds[i], batch + sent[i], length - sent[i], MSG_NOSIGNAL);
                    if (w > 0) sent[i] += (size_t)w;
                    if (w < 0 && errno != EAGAIN) sent[i] = length;
                    if (sent[i] >= length) pending--;
                }
            }
            for (int e = 0; e < n; e++) {
                int i = (int)events[e].data.u32;
                if (sent[i] >= length) continue;
                ssize_t w = send(fds[i], batch + sent[i], length - sent[i], MSG_NOSIGNAL);
                if (w > 0) sent[i] += (size_t)w;
                if (w < 0 && errno != EAGAIN) sent[i] = length;
                if (sent[i] >= length) pending--;
            }
        }
    }
    double seconds = (double)(now_us() - start) / 1e6;
    printf("baseline_frames_made=%llu baseline_frames_per_s=%.0f\n", (unsigned long long)made, made / seconds);
    for (int i = 0; i < viewers; i++) close(fds[i]);
    unlink(argv[1]);
    return 0;
}
