/*
 * Request-thread cost and sustained delivery of xmcdp through its C ABI, as a host calls it.
 * Driven by `cargo xtask bench`; prints one JSON object.
 *
 * usage: enqueue latency|paced|throughput|callgrind <cdp url> <n> <browser id>[,<browser id>...] [shutdown deadline ms]
 *   latency     time each xmcdp_client_page_view call (typical VIEW: page, url with UTM, UA, language), back to back
 *   paced       the same, one call every 200 us (5,000/s, as requests arrive): the delivery task has gone idle
 *               between calls, so a call usually also wakes it
 *   throughput  offer n events as fast as the queue takes them (default capacity 10,000: on QUEUE_FULL wait 100 us and
 *               offer the same event again, so memory stays bounded and nothing is dropped), then wait until the
 *               CDP acknowledged all of them; events/s and peak RSS
 *   callgrind   n calls and nothing else (run under valgrind --toggle-collect=xmcdp_client_page_view)
 * The shutdown deadline (default 30000) bounds the final flush; the outage case passes 0 (nothing can be delivered).
 */
#define _POSIX_C_SOURCE 199309L
#include "xmcdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static xmcdp_str_t str(const char *s) { return (xmcdp_str_t){(const uint8_t *)s, strlen(s)}; }

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static long peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
    fclose(f);
    return kb;
}

static long long stat_of(xmcdp_client_t c, const char *key) {
    static char buf[16384];
    size_t len = 0;
    if (xmcdp_client_stats(c, (uint8_t *)buf, sizeof buf - 1, &len) != XMCDP_STATUS_OK) return -1;
    buf[len] = 0;
    const char *p = strstr(buf, key);
    return p ? atoll(p + strlen(key)) : -1;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s latency|paced|throughput|callgrind <cdp url> <n> <browser ids> [shutdown deadline ms]\n", argv[0]);
        return 2;
    }
    uint32_t deadline_ms = argc == 6 ? (uint32_t)atol(argv[5]) : 30000;
    const char *mode = argv[1];
    long n = atol(argv[3]);
    char *ids[1024];
    int nids = 0;
    for (char *tok = strtok(argv[4], ","); tok && nids < 1024; tok = strtok(NULL, ",")) ids[nids++] = tok;
    if (nids == 0 || n <= 0) return 2;

    char settings[1024];
    snprintf(settings, sizeof settings,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
             "\"currency\":\"EUR\",\"queueCapacity\":2000000,\"queueMaxBytes\":2147483648,"
             "\"deliveryConcurrency\":32,\"requestTimeoutMs\":30000,\"retryMaxAttempts\":20}",
             argv[2]);
    if (strcmp(mode, "throughput") == 0) /* the default, bounded queue */
        snprintf(settings, sizeof settings,
                 "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
                 "\"currency\":\"EUR\",\"deliveryConcurrency\":32,\"requestTimeoutMs\":30000,\"retryMaxAttempts\":20}",
                 argv[2]);
    xmcdp_client_t c = 0;
    if (xmcdp_client_new(str(settings), &c) != XMCDP_STATUS_OK) {
        fprintf(stderr, "client_new failed\n");
        return 1;
    }
    xmcdp_page_view_t v;
    memset(&v, 0, sizeof v);
    v.common.page = str("bikes");
    v.common.language = str("EN");
    v.url = str("/products/bikes?utm_source=newsletter&utm_campaign=spring");
    v.user_agent = str("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36");
    v.include_utm = 1;
    xmcdp_str_t bids[1024];
    for (int i = 0; i < nids; i++) bids[i] = str(ids[i]);

    int rc = 0;
    if (strcmp(mode, "latency") == 0 || strcmp(mode, "paced") == 0) {
        int paced = strcmp(mode, "paced") == 0;
        long long *t = malloc(sizeof(long long) * (size_t)n);
        long warm = n / 10, rejected = 0;
        for (long i = 0; i < warm; i++) {
            v.common.browser_id = bids[i % nids];
            xmcdp_client_page_view(c, &v);
        }
        for (long i = 0; i < n; i++) {
            v.common.browser_id = bids[i % nids];
            long long t0 = now_ns();
            xmcdp_status_t st = xmcdp_client_page_view(c, &v);
            t[i] = now_ns() - t0;
            if (st != XMCDP_STATUS_OK) rejected++;
            if (paced) {
                struct timespec gap = {0, 200000};
                nanosleep(&gap, NULL);
            }
        }
        qsort(t, (size_t)n, sizeof t[0], cmp_ll);
        long long sum = 0;
        for (long i = 0; i < n; i++) sum += t[i];
        printf("{\"calls\":%ld,\"rejected\":%ld,\"p50_ns\":%lld,\"p90_ns\":%lld,\"p99_ns\":%lld,\"mean_ns\":%lld}\n", n, rejected,
               t[n / 2], t[n * 9 / 10], t[n * 99 / 100], sum / n);
        free(t);
        xmcdp_client_shutdown(c, deadline_ms);
    } else if (strcmp(mode, "throughput") == 0) {
        long long t0 = now_ns(), rejected = 0;
        long long full = 0;
        for (long i = 0; i < n; i++) {
            v.common.browser_id = bids[i % nids];
            xmcdp_status_t st;
            while ((st = xmcdp_client_page_view(c, &v)) == XMCDP_STATUS_QUEUE_FULL) {
                struct timespec us = {0, 100000};
                full++;
                nanosleep(&us, NULL);
            }
            if (st != XMCDP_STATUS_OK) rejected++;
        }
        long long queued_ns = now_ns() - t0;
        long long sent = 0, failed = 0;
        for (;;) {
            sent = stat_of(c, "\"sent\":");
            failed = stat_of(c, "\"failed\":");
            if (sent + failed >= n - rejected) break;
            if (now_ns() - t0 > 600LL * 1000000000LL) break;
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        long long total_ns = now_ns() - t0;
        printf("{\"events\":%ld,\"sent\":%lld,\"failed\":%lld,\"rejected\":%lld,\"queue_full_waits\":%lld,\"queue_seconds\":%.3f,"
               "\"seconds\":%.3f,\"events_per_s\":%.0f,\"peak_rss_kb\":%ld}\n",
               n, sent, failed, rejected, full, queued_ns / 1e9, total_ns / 1e9, sent / (total_ns / 1e9), peak_rss_kb());
        rc = sent == n ? 0 : 1;
        xmcdp_client_shutdown(c, deadline_ms);
    } else if (strcmp(mode, "callgrind") == 0) {
        for (long i = 0; i < n; i++) {
            v.common.browser_id = bids[i % nids];
            xmcdp_client_page_view(c, &v);
        }
        printf("{\"calls\":%ld}\n", n);
        xmcdp_client_shutdown(c, deadline_ms);
    } else {
        return 2;
    }
    xmcdp_client_delete(c);
    return rc;
}
