/*
 * Decisions, first visits and the breaker through the C ABI, as a host calls them. Driven by `cargo xtask bench`
 * against an emulator that is already running (the same one the peers use; xtask sets its faults). Prints one
 * JSON object.
 *
 * usage: scenarios decide|prefetch|prefetch-busy|prefetch-paced|firstvisit|breaker-open <cdp url> <n> <browser id> [arg]
 *   decide        n sequential xmcdp_client_decide calls, budget 2000 ms (params vary per call: no cache hit)
 *   prefetch      xmcdp_client_decision_begin at request begin; the rendering asks `arg` ms later
 *                 (xmcdp_client_decision_wait): the begin cost and the wait it sees. Between the two the thread
 *                 sleeps, so both calls run on a thread just back from a sleep (cold caches, the wake-up itself)
 *   prefetch-busy the same, but the thread stays busy (spins on the clock) between begin and claim, as a thread
 *                 rendering a page does: the figures show the library's share rather than a cold wake-up
 *   prefetch-paced  a busy server: xmcdp_client_decision_begin every `arg` us (default 100) of spinning, the tickets
 *                 left unclaimed (they expire): the begin cost with warm caches and the runtime usually awake
 *   firstvisit    xmcdp_client_browser_ensure with no cookie, browser id pool of 64; first visits arrive one per
 *                 `arg` ms (untimed gap, default 2: 500 new visitors/s); time per call and where the id came from
 *   breaker-open  (CDP down) decide with a 500 ms budget until the breaker opens (default threshold), then n calls
 *                 with it open; time per call
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

/* Keeps the thread on its core until `until` (a request thread busy rendering the page). */
static void spin_until(long long until) {
    while (now_ns() < until) {
    }
}

static void sleep_ns(long long ns) {
    if (ns <= 0) return;
    struct timespec t = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&t, NULL);
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v and prints {"n","p50_ns","p99_ns","max_ns","mean_ns"}. */
static void summary(const char *name, long long *v, long n) {
    long long sum = 0;
    qsort(v, (size_t)n, sizeof v[0], cmp_ll);
    for (long i = 0; i < n; i++) sum += v[i];
#define AT(q) (n ? v[(long)((double)(n - 1) * (q) + 0.5)] : 0)
    printf("\"%s\":{\"n\":%ld,\"p50_ns\":%lld,\"p99_ns\":%lld,\"max_ns\":%lld,\"mean_ns\":%lld}", name, n, AT(0.5), AT(0.99),
           AT(1.0), n ? sum / n : 0);
#undef AT
}

static xmcdp_client_t client(const char *url, const char *extra) {
    char settings[1024];
    snprintf(settings, sizeof settings,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\",\"currency\":\"EUR\"%s}", url,
             extra);
    xmcdp_client_t c = 0;
    if (xmcdp_client_new(str(settings), &c) != XMCDP_STATUS_OK) {
        fprintf(stderr, "client_new failed for %s\n", settings);
        exit(1);
    }
    return c;
}

static char params[64];
static uint8_t out[65536];

static xmcdp_decision_request_t request(const char *bid, long i) {
    xmcdp_decision_request_t r;
    memset(&r, 0, sizeof r);
    snprintf(params, sizeof params, "{\"i\":%ld}", i);
    r.friendly_id = str("home_page_banner");
    r.browser_id = str(bid);
    r.channel = str("WEB");
    r.currency = str("EUR");
    r.language = str("EN");
    r.params_json = str(params);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s decide|prefetch|prefetch-busy|prefetch-paced|firstvisit|breaker-open <cdp url> <n> <browser id> [arg]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *url = argv[2], *bid = argv[4];
    long n = atol(argv[3]);
    long arg = argc == 6 ? atol(argv[5]) : 0;
    if (n <= 0) return 2;
    long long *t = malloc(sizeof(long long) * (size_t)n);
    size_t len = 0;
    xmcdp_client_t c;

    if (strcmp(mode, "decide") == 0) {
        c = client(url, ",\"breakerFailureThreshold\":1000000,\"decisionTimeoutMs\":2000");
        for (long i = 0; i < 20; i++) {
            xmcdp_decision_request_t r = request(bid, i);
            xmcdp_client_decide(c, &r, 2000, out, sizeof out, &len);
        }
        long errors = 0;
        for (long i = 0; i < n; i++) {
            xmcdp_decision_request_t r = request(bid, 1000 + i);
            long long t0 = now_ns();
            xmcdp_status_t st = xmcdp_client_decide(c, &r, 2000, out, sizeof out, &len);
            t[i] = now_ns() - t0;
            if (st != XMCDP_STATUS_OK) errors++;
        }
        printf("{");
        summary("elapsed", t, n);
        printf(",\"errors\":%ld}\n", errors);
    } else if (strcmp(mode, "prefetch") == 0 || strcmp(mode, "prefetch-busy") == 0) {
        int busy = strcmp(mode, "prefetch-busy") == 0;
        long ask_ms = arg > 0 ? arg : 30;
        long long *begin = malloc(sizeof(long long) * (size_t)n);
        c = client(url, ",\"breakerFailureThreshold\":1000000,\"decisionTimeoutMs\":2000");
        for (long i = 0; i < 20; i++) {
            xmcdp_decision_request_t r = request(bid, i);
            xmcdp_client_decide(c, &r, 2000, out, sizeof out, &len);
        }
        long errors = 0;
        for (long i = 0; i < n; i++) {
            xmcdp_decision_request_t r = request(bid, 1000 + i);
            xmcdp_ticket_t ticket = 0;
            long long t0 = now_ns();
            if (xmcdp_client_decision_begin(c, &r, &ticket) != XMCDP_STATUS_OK) errors++;
            begin[i] = now_ns() - t0;
            if (busy)
                spin_until(t0 + ask_ms * 1000000LL);
            else
                sleep_ns(ask_ms * 1000000LL - (now_ns() - t0));
            long long asked = now_ns();
            xmcdp_status_t st = xmcdp_client_decision_wait(c, ticket, 2000, out, sizeof out, &len);
            t[i] = now_ns() - asked;
            if (st != XMCDP_STATUS_OK) errors++;
        }
        printf("{");
        summary("begin", begin, n);
        printf(",");
        summary("wait", t, n);
        printf(",\"ask_after_ms\":%ld,\"between\":\"%s\",\"errors\":%ld}\n", ask_ms, busy ? "busy" : "sleep", errors);
        free(begin);
    } else if (strcmp(mode, "prefetch-paced") == 0) {
        long gap_us = arg > 0 ? arg : 100;
        c = client(url, ",\"breakerFailureThreshold\":1000000,\"decisionTimeoutMs\":2000");
        long errors = 0;
        for (long i = 0; i < n; i++) {
            xmcdp_decision_request_t r = request(bid, 1000 + i);
            xmcdp_ticket_t ticket = 0;
            long long t0 = now_ns();
            if (xmcdp_client_decision_begin(c, &r, &ticket) != XMCDP_STATUS_OK) errors++;
            t[i] = now_ns() - t0;
            spin_until(t0 + gap_us * 1000LL);
        }
        printf("{");
        summary("begin", t, n);
        printf(",\"gap_us\":%ld,\"errors\":%ld}\n", gap_us, errors);
    } else if (strcmp(mode, "firstvisit") == 0) {
        long gap_ms = arg > 0 ? arg : 2;
        c = client(url, ",\"browserIdPoolSize\":64");
        sleep_ns(1000000000LL); /* let the pool fill */
        long pool = 0, created = 0, errors = 0;
        for (long i = 0; i < n; i++) {
            xmcdp_browser_id_t id;
            long long t0 = now_ns();
            xmcdp_status_t st = xmcdp_client_browser_ensure(c, str("_ga=GA1.2.1234567890.1700000000"), 0, &id, out, sizeof out, &len);
            t[i] = now_ns() - t0;
            if (st != XMCDP_STATUS_OK) errors++;
            else if (id.source == XMCDP_BROWSER_SOURCE_POOL) pool++;
            else if (id.source == XMCDP_BROWSER_SOURCE_CREATED) created++;
            sleep_ns(gap_ms * 1000000LL);
        }
        printf("{");
        summary("elapsed", t, n);
        printf(",\"from_pool\":%ld,\"created\":%ld,\"errors\":%ld,\"gap_ms\":%ld,\"pool_size\":64}\n", pool, created, errors, gap_ms);
    } else if (strcmp(mode, "breaker-open") == 0) {
        c = client(url, ",\"decisionTimeoutMs\":500,\"breakerCooldownMs\":600000");
        long long before[100];
        long k = 0;
        for (; k < 100; k++) {
            xmcdp_decision_request_t r = request(bid, k);
            long long t0 = now_ns();
            xmcdp_status_t st = xmcdp_client_decide(c, &r, 500, out, sizeof out, &len);
            before[k] = now_ns() - t0;
            if (st == XMCDP_STATUS_CIRCUIT_OPEN) break;
        }
        long open = 0;
        for (long i = 0; i < n; i++) {
            xmcdp_decision_request_t r = request(bid, 10000 + i);
            long long t0 = now_ns();
            xmcdp_status_t st = xmcdp_client_decide(c, &r, 500, out, sizeof out, &len);
            t[i] = now_ns() - t0;
            if (st == XMCDP_STATUS_CIRCUIT_OPEN) open++;
        }
        printf("{");
        summary("before_open", before, k < 100 ? k : 100);
        printf(",\"calls_to_open\":%ld,", k);
        summary("elapsed", t, n);
        printf(",\"circuit_open\":%ld}\n", open);
    } else {
        return 2;
    }
    xmcdp_client_shutdown(c, 0);
    xmcdp_client_delete(c);
    free(t);
    return 0;
}
