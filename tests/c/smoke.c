/*
 * C smoke test of the xmcdp ABI, compiled against bindings/c/xmcdp.h with
 * `gcc -Wall -Werror -std=c99` and linked to the cdylib. Driven by tests/c_smoke.rs, which starts the
 * emulator and creates a browser id, then checks that the emulator received the events sent here.
 *
 * usage: smoke <emulator base url> <browser id>
 * Exit code 0 when every check passed; every failed check is printed. Decisions, browser ids and guest
 * data run against the emulator's default tenant (client key ck_test, API token tok_test).
 */
#define _POSIX_C_SOURCE 199309L /* nanosleep under -std=c99; before any system header */
#include "xmcdp.h"
#include "xmcdp.h" /* twice: the include guard must make this a no-op */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;
static int checks = 0;

/* An xmcdp_str_t over a string literal (no terminator passed). */
#define S(lit) ((xmcdp_str_t){(const uint8_t *)(lit), sizeof(lit) - 1})
/* An xmcdp_str_t over a NUL-terminated runtime string. */
static xmcdp_str_t str(const char *s) {
    xmcdp_str_t r;
    r.ptr = (const uint8_t *)s;
    r.len = strlen(s);
    return r;
}

static const char *name(xmcdp_status_t s) {
    static char buf[64];
    xmcdp_str_t n = xmcdp_status_name((uint32_t)s);
    size_t len = n.len < sizeof buf - 1 ? n.len : sizeof buf - 1;
    memcpy(buf, n.ptr, len);
    buf[len] = 0;
    return buf;
}

/* The calling thread's last error, NUL-terminated (static buffer). */
static const char *last_error(void) {
    static char buf[4096];
    size_t len = 0;
    if (xmcdp_last_error((uint8_t *)buf, sizeof buf - 1, &len) != XMCDP_STATUS_OK) return "<last_error failed>";
    buf[len] = 0;
    return buf;
}

#define CHECK(cond, ...)                                            \
    do {                                                            \
        checks++;                                                   \
        if (!(cond)) {                                              \
            failures++;                                             \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                    \
            printf("\n");                                           \
        }                                                           \
    } while (0)

/* Expects status `want`; when `field` is non-NULL the last error must mention it. */
static void expect(xmcdp_status_t got, xmcdp_status_t want, const char *field, const char *expr, int line) {
    const char *msg = got == XMCDP_STATUS_OK ? "" : last_error();
    char want_name[64];
    checks++;
    snprintf(want_name, sizeof want_name, "%s", name(want));
    if (got != want) {
        failures++;
        printf("FAIL %s:%d: %s returned %s (%d), want %s: %s\n", __FILE__, line, expr, name(got), (int)got,
               want_name, msg);
    } else if (field != NULL && strstr(msg, field) == NULL) {
        failures++;
        printf("FAIL %s:%d: %s: message `%s` does not name `%s`\n", __FILE__, line, expr, msg, field);
    }
}
#define EXPECT(call, want, field) expect((call), (want), (field), #call, __LINE__)

static void test_version_and_guard(void) {
    CHECK(xmcdp_version() == XMCDP_VERSION_NUMBER, "library %u, header %u", xmcdp_version(),
          (unsigned)XMCDP_VERSION_NUMBER);
    CHECK(xmcdp_api_guard() == XMCDP_API_HASH, "library API hash differs from the header's: stale header or dll");
    CHECK(strcmp(name(XMCDP_STATUS_INVALID_UTF8), "INVALID_UTF8") == 0, "got %s", name(XMCDP_STATUS_INVALID_UTF8));
    CHECK(strcmp(name((xmcdp_status_t)999), "UNKNOWN") == 0, "got %s", name((xmcdp_status_t)999));
}

static void test_bad_config(const char *base) {
    xmcdp_client_t c = 77;
    char json[512];

    EXPECT(xmcdp_client_new(S("{}"), NULL), XMCDP_STATUS_NULL_POINTER, "out_client");
    xmcdp_str_t absent = {NULL, 0};
    EXPECT(xmcdp_client_new(absent, &c), XMCDP_STATUS_NULL_POINTER, "settings_json");
    CHECK(c == 0, "out_client must be 0 after a failure, got %llu", (unsigned long long)c);
    xmcdp_str_t null_with_len = {NULL, 5};
    EXPECT(xmcdp_client_new(null_with_len, &c), XMCDP_STATUS_INVALID_ARGUMENT, "settings_json");
    EXPECT(xmcdp_client_new(S("{\"clientKey\": "), &c), XMCDP_STATUS_INVALID_JSON, NULL);
    snprintf(json, sizeof json,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
             "\"noSuchSetting\":1}",
             base);
    EXPECT(xmcdp_client_new(str(json), &c), XMCDP_STATUS_UNKNOWN_KEY, "noSuchSetting");
    EXPECT(xmcdp_client_new(S("{\"clientKey\":\"ck\xff\"}"), &c), XMCDP_STATUS_INVALID_UTF8, "settings_json");

    /* Oversized settings: rejected on length before parsing (the bytes are never read). */
    size_t big_len = 2 * 1024 * 1024;
    char *big = malloc(big_len);
    CHECK(big != NULL, "malloc");
    if (big) {
        memset(big, ' ', big_len);
        xmcdp_str_t s = {(const uint8_t *)big, big_len};
        EXPECT(xmcdp_client_new(s, &c), XMCDP_STATUS_TOO_LARGE, "settings_json");
        free(big);
    }
}

static void test_last_error_buffers(void) {
    size_t need = 0, len = 0;
    char small[4];
    /* Make a known failure, then read it back through a too-small buffer. */
    EXPECT(xmcdp_client_delete(0), XMCDP_STATUS_INVALID_HANDLE, "handle");
    CHECK(xmcdp_last_error(NULL, 0, &need) == XMCDP_STATUS_BUFFER_TOO_SMALL, "size query");
    CHECK(need > sizeof small, "need %zu", need);
    CHECK(xmcdp_last_error((uint8_t *)small, sizeof small, &len) == XMCDP_STATUS_BUFFER_TOO_SMALL, "small buffer");
    CHECK(len == need, "len %zu need %zu", len, need);
    CHECK(xmcdp_last_error(NULL, 0, NULL) == XMCDP_STATUS_NULL_POINTER, "NULL out_len");
    CHECK(xmcdp_last_error(NULL, 10, &len) == XMCDP_STATUS_NULL_POINTER, "NULL buf with cap");
    /* Failing reads of the message must not replace it. */
    CHECK(strstr(last_error(), "handle") != NULL, "message replaced: %s", last_error());
}

static void test_page_views(xmcdp_client_t c, const char *bid) {
    xmcdp_page_view_t pv;
    memset(&pv, 0, sizeof pv);
    pv.common.browser_id = str(bid);
    pv.common.page = S("home");
    pv.common.language = S("EN");
    pv.url = S("/?utm_source=smoke&utm_medium=c");
    pv.referrer = S("https://www.example.com/");
    pv.ext_json = S("{\"test\":\"c-smoke\",\"nested\":{\"a\":1}}");
    pv.user_agent = S("xmcdp-smoke/1.0");
    pv.include_utm = 1;

    EXPECT(xmcdp_client_page_view(c, NULL), XMCDP_STATUS_NULL_POINTER, "page_view");
    EXPECT(xmcdp_client_page_view(0, &pv), XMCDP_STATUS_INVALID_HANDLE, NULL);
    EXPECT(xmcdp_client_page_view(c ^ 0x100000000ULL, &pv), XMCDP_STATUS_INVALID_HANDLE, NULL);
    EXPECT(xmcdp_client_page_view(0xdeadbeefcafeULL, &pv), XMCDP_STATUS_INVALID_HANDLE, NULL);

    xmcdp_page_view_t bad = pv;
    bad.url = S("/caf\xc3(");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_UTF8, "page_view.url");
    bad = pv;
    bad.common.page = S("\xff");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_UTF8, "page_view.common.page");

    size_t huge_len = 64 * 1024 + 1;
    char *huge = malloc(huge_len);
    CHECK(huge != NULL, "malloc");
    if (huge) {
        memset(huge, 'a', huge_len);
        bad = pv;
        bad.referrer.ptr = (const uint8_t *)huge;
        bad.referrer.len = huge_len;
        EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_TOO_LARGE, "page_view.referrer");
        bad = pv;
        bad.ext_json.ptr = (const uint8_t *)huge;
        bad.ext_json.len = huge_len;
        EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_TOO_LARGE, "page_view.ext_json");
        free(huge);
    }
    bad = pv;
    bad.ext_json = S("[1,2]");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_EXT, "page_view.ext_json");
    bad = pv;
    bad.common.browser_id = S("not a browser id");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_BROWSER_ID, NULL);
    bad = pv;
    bad.page_variant_id.ptr = NULL;
    bad.page_variant_id.len = 3;
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_ARGUMENT, "page_view.page_variant_id");

    EXPECT(xmcdp_client_page_view(c, &pv), XMCDP_STATUS_OK, NULL);
}

static void test_identity(xmcdp_client_t c, const char *bid) {
    xmcdp_identity_t id;
    memset(&id, 0, sizeof id);
    id.common.browser_id = str(bid);
    id.email = S("smoke@example.com");
    id.first_name = S("Ada");
    id.last_name = S("Lovelace");
    id.dob = S("1990-01-31T00:00");

    EXPECT(xmcdp_client_identity(c, NULL), XMCDP_STATUS_NULL_POINTER, "identity");
    EXPECT(xmcdp_client_identity(c, &id), XMCDP_STATUS_MISSING_IDENTIFIERS, NULL);

    xmcdp_identifier_t ids[1];
    memset(ids, 0, sizeof ids);
    ids[0].provider = S("email");
    ids[0].id = S("smoke@example.com");
    xmcdp_str_t street[2] = {S("1 Main Street"), S("Apt 2")};
    id.identifiers = ids;
    id.identifiers_len = 1;
    id.street = street;
    id.street_len = 2;

    xmcdp_identity_t bad = id;
    bad.email = S("not-an-email");
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_INVALID_EMAIL, NULL);
    bad = id;
    bad.identifiers = NULL;
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_NULL_POINTER, "identity.identifiers");
    bad = id;
    bad.identifiers_len = 1000;
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_TOO_LARGE, "identity.identifiers");
    xmcdp_str_t bad_street[2] = {S("ok"), S("\xc0\x80")};
    bad = id;
    bad.street = bad_street;
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_INVALID_UTF8, "identity.street[1]");

    EXPECT(xmcdp_client_identity(c, &id), XMCDP_STATUS_OK, NULL);
}

static void test_custom_event(xmcdp_client_t c, const char *bid) {
    xmcdp_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.common.browser_id = str(bid);
    ev.event_type = S("ADD");
    ev.data_json = S("{\"product\":{\"name\":\"Smoke\",\"type\":\"TEST\",\"item_id\":\"SKU-1\","
                     "\"productId\":\"P-1\",\"currency\":\"EUR\",\"price\":1.5,\"quantity\":1}}");

    EXPECT(xmcdp_client_event(c, NULL), XMCDP_STATUS_NULL_POINTER, "custom_event");
    xmcdp_event_t bad = ev;
    bad.event_type = S("VIEW");
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_EVENT_TYPE, NULL);
    bad = ev;
    bad.event_type.ptr = NULL;
    bad.event_type.len = 0;
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_EVENT_TYPE, NULL);
    bad = ev;
    bad.data_json = S("[]");
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_FIELD, "event.data_json");
    bad = ev;
    bad.data_json = S("{\"type\":\"X\"}");
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_FIELD, NULL);

    EXPECT(xmcdp_client_event(c, &ev), XMCDP_STATUS_OK, NULL);
}

static void test_stats(xmcdp_client_t c) {
    char buf[8192];
    size_t need = 0, len = 0;
    EXPECT(xmcdp_client_stats(c, (uint8_t *)buf, 1, &need), XMCDP_STATUS_BUFFER_TOO_SMALL, "stats");
    CHECK(need > 1, "need %zu", need);
    EXPECT(xmcdp_client_stats(c, NULL, 0, &need), XMCDP_STATUS_BUFFER_TOO_SMALL, NULL);
    EXPECT(xmcdp_client_stats(c, (uint8_t *)buf, sizeof buf, NULL), XMCDP_STATUS_NULL_POINTER, "out_len");
    EXPECT(xmcdp_client_stats(c, (uint8_t *)buf, sizeof buf - 1, &len), XMCDP_STATUS_OK, NULL);
    buf[len < sizeof buf ? len : sizeof buf - 1] = 0;
    CHECK(len > 0 && buf[0] == '{', "stats: %s", buf);
    CHECK(strstr(buf, "\"decisions\":{") != NULL, "stats without decisions: %s", buf);
    CHECK(strstr(buf, "\"breaker_state\":\"closed\"") != NULL, "stats without the breaker state: %s", buf);
}

/* Output buffers are not NUL-terminated: copies `len` bytes of `src` into `dst` (size `cap`) as a C string. */
static const char *cstr(char *dst, size_t cap, const void *src, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
    return dst;
}

static xmcdp_decision_request_t decision_request(const char *friendly_id, const char *bid) {
    xmcdp_decision_request_t r;
    memset(&r, 0, sizeof r);
    r.friendly_id = str(friendly_id);
    r.browser_id = str(bid);
    r.channel = S("WEB");
    r.language = S("EN");
    r.user_agent = S("xmcdp-smoke/1.0");
    return r;
}

static void test_decisions(xmcdp_client_t c, const char *bid) {
    char buf[4096], text[4096], small[4];
    size_t len = 0, need = 0;

    xmcdp_decision_request_t r = decision_request("home_page_banner", bid);
    r.params_json = S("{\"tier\":\"gold\",\"n\":1}");
    EXPECT(xmcdp_client_decide(c, &r, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    cstr(text, sizeof text, buf, len);
    /* banner-visitor, or banner-customer once the IDENTITY event sent above has been delivered. */
    CHECK(strstr(text, "{\"variantId\":\"banner-") == text, "home_page_banner: %s", text);
    CHECK(strstr(text, "\"guestRef\":\"\"") == NULL, "the browser's guest was not resolved: %s", text);

    /* budget 0 = the client's decisionTimeoutMs (raised to 5 s in the settings). */
    xmcdp_decision_request_t hero = decision_request("hero_experiment", bid);
    char first[64] = "";
    EXPECT(xmcdp_client_decide(c, &hero, 0, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    cstr(first, sizeof first, buf, len);
    CHECK(strcmp(first, "{\"variantId\":\"hero-a\"}") == 0 || strcmp(first, "{\"variantId\":\"hero-b\"}") == 0,
          "hero_experiment: %s", first);

    /* Fallback statuses carry the server's words. */
    xmcdp_decision_request_t unknown = decision_request("no_such_flow", bid);
    EXPECT(xmcdp_client_decide(c, &unknown, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_FLOW_NOT_FOUND,
           "No live flow");
    xmcdp_decision_request_t paused = decision_request("paused_flow", bid);
    EXPECT(xmcdp_client_decide(c, &paused, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_FLOW_NOT_FOUND, "404");

    /* Bad requests fail before any network work. */
    xmcdp_decision_request_t bad;
    memset(&bad, 0, sizeof bad);
    EXPECT(xmcdp_client_decide(c, &bad, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_MISSING_FRIENDLY_ID, NULL);
    EXPECT(xmcdp_client_decide(c, NULL, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NULL_POINTER, "request");
    EXPECT(xmcdp_client_decide(c, &r, 5000, (uint8_t *)buf, sizeof buf, NULL), XMCDP_STATUS_NULL_POINTER, "out_len");
    EXPECT(xmcdp_client_decide(c, &r, 5000, NULL, 16, &len), XMCDP_STATUS_NULL_POINTER, "buf");
    EXPECT(xmcdp_client_decide(0, &r, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_INVALID_HANDLE, NULL);
    bad = r;
    bad.friendly_id = S("home\xff");
    EXPECT(xmcdp_client_decide(c, &bad, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_INVALID_UTF8,
           "request.friendly_id");
    bad = r;
    bad.params_json = S("[1]");
    EXPECT(xmcdp_client_decide(c, &bad, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_INVALID_FIELD,
           "request.params_json");
    bad = r;
    bad.browser_id = S("bid\r\nX-Injected: 1");
    EXPECT(xmcdp_client_decide(c, &bad, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_INVALID_BROWSER_ID, NULL);
    bad = r;
    bad.page_variant_ids = NULL;
    bad.page_variant_ids_len = 2;
    EXPECT(xmcdp_client_decide(c, &bad, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NULL_POINTER,
           "request.page_variant_ids");
    xmcdp_str_t variants[2] = {S("v1"), {NULL, 0}};
    bad = r;
    bad.page_variant_ids = variants;
    bad.page_variant_ids_len = 2;
    EXPECT(xmcdp_client_decide(c, &bad, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NULL_POINTER,
           "request.page_variant_ids[1]");

    /* A decision that does not fit is held, not lost: one flow execution (c_smoke.rs counts promo_summer). */
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NO_RECORD, "no result is held");
    xmcdp_decision_request_t promo = decision_request("promo_summer", bid);
    EXPECT(xmcdp_client_decide(c, &promo, 5000, (uint8_t *)small, sizeof small, &need), XMCDP_STATUS_BUFFER_TOO_SMALL,
           "xmcdp_result_take");
    CHECK(need == strlen("{\"variantId\":\"promo-summer\"}"), "need %zu", need);
    EXPECT(xmcdp_result_take((uint8_t *)small, sizeof small, &len), XMCDP_STATUS_BUFFER_TOO_SMALL, NULL);
    CHECK(len == need, "take size %zu, need %zu", len, need);
    EXPECT(xmcdp_result_take((uint8_t *)buf, need, &len), XMCDP_STATUS_OK, NULL);
    CHECK(len == need && memcmp(buf, "{\"variantId\":\"promo-summer\"}", len) == 0, "taken: %s",
          cstr(text, sizeof text, buf, len));
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NO_RECORD, NULL); /* taken once */
    /* A size query holds the result too; any later call that can hold one drops it. */
    EXPECT(xmcdp_client_decide(c, &hero, 5000, NULL, 0, &need), XMCDP_STATUS_BUFFER_TOO_SMALL, NULL);
    EXPECT(xmcdp_client_decide(c, &unknown, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_FLOW_NOT_FOUND, NULL);
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NO_RECORD, NULL);

    /* Prefetch: begin never blocks; ready polls; wait claims once. */
    xmcdp_ticket_t t = 0;
    uint8_t ready = 7;
    EXPECT(xmcdp_client_decision_begin(c, &hero, NULL), XMCDP_STATUS_NULL_POINTER, "out_ticket");
    t = 99;
    EXPECT(xmcdp_client_decision_begin(c, &bad, &t), XMCDP_STATUS_NULL_POINTER, "request.page_variant_ids[1]");
    CHECK(t == 0, "ticket after a failed begin: %llu", (unsigned long long)t);
    EXPECT(xmcdp_client_decision_begin(c, &hero, &t), XMCDP_STATUS_OK, NULL);
    CHECK(t != 0, "ticket 0");
    EXPECT(xmcdp_client_decision_ready(c, t, NULL), XMCDP_STATUS_NULL_POINTER, "out_ready");
    for (int i = 0; i < 500; i++) {
        EXPECT(xmcdp_client_decision_ready(c, t, &ready), XMCDP_STATUS_OK, NULL);
        if (ready != 0) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK(ready == 1, "prefetch never became ready (%u)", ready);
    EXPECT(xmcdp_client_decision_wait(c, t, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    CHECK(strcmp(cstr(text, sizeof text, buf, len), first) == 0, "prefetched %s, decided %s", text, first);
    EXPECT(xmcdp_client_decision_wait(c, t, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_TICKET_UNKNOWN, NULL);
    EXPECT(xmcdp_client_decision_ready(c, t, &ready), XMCDP_STATUS_TICKET_UNKNOWN, NULL);
    CHECK(ready == 0, "ready after a failure: %u", ready);
    EXPECT(xmcdp_client_decision_wait(c, 12345, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_TICKET_UNKNOWN,
           NULL);
    EXPECT(xmcdp_client_decision_wait(c, c, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_TICKET_UNKNOWN, NULL);
    EXPECT(xmcdp_client_decision_wait(0, t, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_INVALID_HANDLE, NULL);
    /* An unknown flow's ticket is issued; its answer is the fallback status. A too-small wait holds it. */
    EXPECT(xmcdp_client_decision_begin(c, &unknown, &t), XMCDP_STATUS_OK, NULL);
    EXPECT(xmcdp_client_decision_wait(c, t, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_FLOW_NOT_FOUND, NULL);
    EXPECT(xmcdp_client_decision_begin(c, &r, &t), XMCDP_STATUS_OK, NULL);
    EXPECT(xmcdp_client_decision_wait(c, t, 5000, (uint8_t *)small, sizeof small, &need), XMCDP_STATUS_BUFFER_TOO_SMALL,
           NULL);
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    CHECK(len == need && strstr(cstr(text, sizeof text, buf, len), "\"variantId\":\"banner-") != NULL, "taken: %s", text);
}

/* Checks one browser_ensure answer; returns the Set-Cookie span as a C string in `cookies`. */
static void split_browser(const xmcdp_browser_id_t *o, const char *buf, size_t len, char *id, char *guest,
                          char *cookies) {
    CHECK(o->browser_id_len + o->guest_ref_len + o->set_cookies_len == len, "layout %zu+%zu+%zu != %zu",
          o->browser_id_len, o->guest_ref_len, o->set_cookies_len, len);
    cstr(id, 256, buf, o->browser_id_len);
    cstr(guest, 256, buf + o->browser_id_len, o->guest_ref_len);
    cstr(cookies, 2048, buf + o->browser_id_len + o->guest_ref_len, o->set_cookies_len);
}

/* Writes the guest ref of the browser id created here into `guest_out` (size 256). */
static void test_browser(xmcdp_client_t c, const char *bid, char *guest_out) {
    char buf[2048], small[8], id[256], guest[256], cookies[2048], header[512], prefix[1024];
    size_t len = 0, need = 0;
    xmcdp_browser_id_t o;
    xmcdp_str_t absent = {NULL, 0};

    /* No cookie: an id is created in CDP, with its guest ref and the cookie to set. */
    EXPECT(xmcdp_client_browser_ensure(c, absent, 5000, &o, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    split_browser(&o, buf, len, id, guest, cookies);
    CHECK(o.source == XMCDP_BROWSER_SOURCE_CREATED && o.created == 1, "source %d created %u", (int)o.source, o.created);
    CHECK(o.set_cookie_count == 1 && o.guest_ref_len > 0, "count %u guest %zu", o.set_cookie_count, o.guest_ref_len);
    snprintf(prefix, sizeof prefix, "bid_ck_test=%s; Max-Age=63072000; SameSite=None; Secure; Path=/", id);
    CHECK(strcmp(cookies, prefix) == 0, "Set-Cookie `%s`, want `%s`", cookies, prefix);
    snprintf(guest_out, 256, "%s", guest);
    char created[256];
    snprintf(created, sizeof created, "%s", id);

    /* The current cookie among others: returned at once, nothing to emit. */
    snprintf(header, sizeof header, "ASP.NET_SessionId=abc; bid_ck_test=%s; other=1", bid);
    EXPECT(xmcdp_client_browser_ensure(c, str(header), 5000, &o, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK,
           NULL);
    split_browser(&o, buf, len, id, guest, cookies);
    CHECK(o.source == XMCDP_BROWSER_SOURCE_COOKIE && o.created == 0 && o.set_cookie_count == 0, "source %d", (int)o.source);
    CHECK(strcmp(id, bid) == 0 && len == strlen(bid), "id %s", id);
    /* Even a zero-capacity query answers the cookie path (the id is just a length away). */
    EXPECT(xmcdp_client_browser_ensure(c, str(header), 5000, &o, NULL, 0, &need), XMCDP_STATUS_BUFFER_TOO_SMALL, NULL);
    CHECK(need == strlen(bid) && o.browser_id_len == need, "need %zu", need);
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);

    /* The legacy cookie: migrated (new cookie set, legacy one expired). */
    snprintf(header, sizeof header, "BID_ck_test=%s", bid);
    EXPECT(xmcdp_client_browser_ensure(c, str(header), 5000, &o, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK,
           NULL);
    split_browser(&o, buf, len, id, guest, cookies);
    CHECK(o.source == XMCDP_BROWSER_SOURCE_LEGACY && o.created == 0 && o.set_cookie_count == 2, "source %d count %u",
          (int)o.source, o.set_cookie_count);
    snprintf(prefix, sizeof prefix,
             "bid_ck_test=%s; Max-Age=63072000; SameSite=None; Secure; Path=/\n"
             "BID_ck_test=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT;",
             bid);
    CHECK(strcmp(id, bid) == 0 && strcmp(cookies, prefix) == 0, "legacy: id %s cookies `%s`", id, cookies);

    /* Hostile cookie values are ignored (never echoed): a fresh id is created instead. */
    EXPECT(xmcdp_client_browser_ensure(c, S("bid_ck_test=x\r\nSet-Cookie: evil=1; BID_ck_test=../../etc"), 5000, &o,
                                       (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_OK, NULL);
    split_browser(&o, buf, len, id, guest, cookies);
    CHECK(o.source == XMCDP_BROWSER_SOURCE_CREATED, "hostile cookie: source %d", (int)o.source);
    CHECK(strstr(cookies, "evil") == NULL && strstr(cookies, "..") == NULL, "echoed: %s", cookies);
    CHECK(strcmp(id, created) != 0, "a new id each time");

    /* A created id that does not fit is held, not lost. */
    EXPECT(xmcdp_client_browser_ensure(c, absent, 5000, &o, (uint8_t *)small, sizeof small, &need),
           XMCDP_STATUS_BUFFER_TOO_SMALL, "xmcdp_result_take");
    CHECK(o.source == XMCDP_BROWSER_SOURCE_CREATED && o.browser_id_len > 0 && need > sizeof small,
          "layout filled on BUFFER_TOO_SMALL: source %d need %zu", (int)o.source, need);
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    split_browser(&o, buf, len, id, guest, cookies);
    CHECK(strstr(cookies, id) != NULL && strlen(id) == o.browser_id_len, "taken: %s / %s", id, cookies);

    /* Bad arguments. */
    EXPECT(xmcdp_client_browser_ensure(c, absent, 5000, NULL, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_NULL_POINTER, "out_id");
    o.source = XMCDP_BROWSER_SOURCE_POOL;
    EXPECT(xmcdp_client_browser_ensure(c, S("bid_ck_test=\xc3("), 5000, &o, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_INVALID_UTF8, "cookie_header");
    CHECK(o.source == XMCDP_BROWSER_SOURCE_NONE && o.browser_id_len == 0, "out_id not zeroed on failure");
    EXPECT(xmcdp_client_browser_ensure(c, absent, 5000, &o, (uint8_t *)buf, sizeof buf, NULL), XMCDP_STATUS_NULL_POINTER,
           "out_len");
    EXPECT(xmcdp_client_browser_ensure(0, absent, 5000, &o, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_INVALID_HANDLE, NULL);

    /* Browser id -> guest ref. */
    EXPECT(xmcdp_client_browser_guest_ref(c, str(created), 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK,
           NULL);
    CHECK(strcmp(cstr(id, sizeof id, buf, len), guest_out) == 0, "guest ref %s, created with %s", id, guest_out);
    EXPECT(xmcdp_client_browser_guest_ref(c, str(bid), 5000, (uint8_t *)small, sizeof small, &need),
           XMCDP_STATUS_BUFFER_TOO_SMALL, NULL);
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    CHECK(len == need && len > 0, "taken guest ref %zu", len);
    EXPECT(xmcdp_client_browser_guest_ref(c, S("00000000-0000-0000-0000-000000000000"), 5000, (uint8_t *)buf, sizeof buf,
                                          &len),
           XMCDP_STATUS_NOT_FOUND, NULL);
    EXPECT(xmcdp_client_browser_guest_ref(c, S("a b"), 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_INVALID_BROWSER_ID, NULL);
    EXPECT(xmcdp_client_browser_guest_ref(c, absent, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NULL_POINTER,
           "browser_id");
}

static xmcdp_client_t guest_client(const char *base, const char *token) {
    char json[512];
    xmcdp_client_t g = 0;
    snprintf(json, sizeof json,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
             "\"apiToken\":\"%s\"}",
             base, token);
    EXPECT(xmcdp_client_new(str(json), &g), XMCDP_STATUS_OK, NULL);
    return g;
}

static void test_guests(const char *base, const char *guest_ref) {
    char buf[16384], text[16384], small[8];
    size_t len = 0, need = 0;
    xmcdp_str_t absent = {NULL, 0};
    xmcdp_str_t g = str(guest_ref);
    xmcdp_client_t c = guest_client(base, "tok_test");
    if (c == 0) return;

    EXPECT(xmcdp_client_guest_get(c, g, 0, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    CHECK(strstr(cstr(text, sizeof text, buf, len), guest_ref) != NULL, "guest: %s", text);

    EXPECT(xmcdp_client_guest_extension_create(c, g, S("ext"), S("{\"vipMember\":true,\"tier\":\"gold\",\"points\":3}"),
                                               5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_OK, NULL);
    CHECK(strstr(cstr(text, sizeof text, buf, len), "\"tier\":\"gold\"") != NULL, "created: %s", text);
    EXPECT(xmcdp_client_guest_extension_get(c, g, S("ext"), 0, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    CHECK(strstr(cstr(text, sizeof text, buf, len), "\"vipMember\":true") != NULL, "read: %s", text);
    EXPECT(xmcdp_client_guest_extension_patch(c, g, S("ext"), S("{\"tier\":\"silver\"}"), 5000, (uint8_t *)buf,
                                              sizeof buf, &len),
           XMCDP_STATUS_OK, NULL);
    cstr(text, sizeof text, buf, len);
    CHECK(strstr(text, "\"tier\":\"silver\"") != NULL && strstr(text, "\"points\":3") != NULL, "patched: %s", text);
    EXPECT(xmcdp_client_guest_extension_put(c, g, S("ext"), S("{\"tier\":\"bronze\",\"points\":4}"), 5000,
                                            (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_OK, NULL);
    CHECK(strstr(cstr(text, sizeof text, buf, len), "vipMember") == NULL, "put replaces all keys: %s", text);
    EXPECT(xmcdp_client_guest_extension_list(c, g, 1, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    CHECK(strstr(cstr(text, sizeof text, buf, len), "bronze") != NULL, "list: %s", text);

    /* A Guest API answer that does not fit is held (the write is not repeated to read it). */
    EXPECT(xmcdp_client_guest_extension_get(c, g, S("ext"), 5000, (uint8_t *)small, sizeof small, &need),
           XMCDP_STATUS_BUFFER_TOO_SMALL, "xmcdp_result_take");
    EXPECT(xmcdp_result_take((uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
    CHECK(len == need && strstr(cstr(text, sizeof text, buf, len), "bronze") != NULL, "taken: %s", text);

    xmcdp_str_t fields[1] = {S("points")};
    EXPECT(xmcdp_client_guest_extension_delete_fields(c, g, S("ext"), fields, 1, 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_OK, NULL);
    cstr(text, sizeof text, buf, len);
    CHECK(strstr(text, "points") == NULL && strstr(text, "bronze") != NULL, "after delete_fields: %s", text);
    EXPECT(xmcdp_client_guest_extension_delete_fields(c, g, S("ext"), NULL, 1, 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_NULL_POINTER, "fields");
    xmcdp_str_t bad_fields[2] = {S("tier"), S("\xff")};
    EXPECT(xmcdp_client_guest_extension_delete_fields(c, g, S("ext"), bad_fields, 2, 5000, (uint8_t *)buf, sizeof buf,
                                                      &len),
           XMCDP_STATUS_INVALID_UTF8, "fields[1]");
    EXPECT(xmcdp_client_guest_extension_delete(c, g, S("ext"), 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK,
           NULL);
    EXPECT(xmcdp_client_guest_extension_get(c, g, S("ext"), 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_NOT_FOUND, "404");
    EXPECT(xmcdp_client_guest_get(c, S("00000000-0000-0000-0000-000000000000"), 1, 5000, (uint8_t *)buf, sizeof buf,
                                  &len),
           XMCDP_STATUS_NOT_FOUND, "was not found");

    /* Find: by email or by identifier, not both, not neither. */
    EXPECT(xmcdp_client_guest_find(c, S("nobody@example.com"), absent, absent, 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_OK, NULL);
    CHECK(strstr(cstr(text, sizeof text, buf, len), "\"items\":[]") != NULL, "find: %s", text);
    EXPECT(xmcdp_client_guest_find(c, absent, S("CRM"), S("C-404"), 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_OK, NULL);
    EXPECT(xmcdp_client_guest_find(c, S("a@example.com"), S("CRM"), S("C-1"), 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_INVALID_ARGUMENT, "email");
    EXPECT(xmcdp_client_guest_find(c, absent, absent, absent, 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_INVALID_ARGUMENT, NULL);

    /* Local checks before any request. */
    EXPECT(xmcdp_client_guest_extension_create(c, g, S("ext1"), S("{"), 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_INVALID_EXT, "data_json");
    EXPECT(xmcdp_client_guest_extension_create(c, g, S("ext1"), S("{\"a\":{\"b\":1}}"), 5000, (uint8_t *)buf,
                                               sizeof buf, &len),
           XMCDP_STATUS_INVALID_EXT, NULL);
    EXPECT(xmcdp_client_guest_extension_create(c, g, S("nope"), S("{\"a\":1}"), 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_INVALID_EXT, NULL);
    EXPECT(xmcdp_client_guest_extension_create(c, g, S("ext1"), absent, 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_NULL_POINTER, "data_json");
    EXPECT(xmcdp_client_guest_extension_patch(c, absent, S("ext"), S("{}"), 5000, (uint8_t *)buf, sizeof buf, &len),
           XMCDP_STATUS_NULL_POINTER, "guest_ref");
    EXPECT(xmcdp_client_guest_get(c, S("../x"), 0, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_INVALID_ARGUMENT,
           NULL);
    EXPECT(xmcdp_client_guest_get(c, S("g\xc0"), 0, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_INVALID_UTF8,
           "guest_ref");
    EXPECT(xmcdp_client_guest_get(c, g, 0, 5000, (uint8_t *)buf, sizeof buf, NULL), XMCDP_STATUS_NULL_POINTER, "out_len");
    EXPECT(xmcdp_client_delete(c), XMCDP_STATUS_OK, NULL);

    /* A wrong token: UNAUTHORIZED, and the message never shows the token (nor the Basic credentials). */
    xmcdp_client_t w = guest_client(base, "tok_wrong_s3cret");
    if (w != 0) {
        EXPECT(xmcdp_client_guest_get(w, g, 0, 5000, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_UNAUTHORIZED, "401");
        const char *m = last_error();
        CHECK(strstr(m, "tok_wrong_s3cret") == NULL && strstr(m, "Y2tfdGVzdDp0b2tfd3JvbmdfczNjcmV0") == NULL,
              "the token leaked: %s", m);
        EXPECT(xmcdp_client_guest_extension_create(w, g, S("ext"), S("{\"a\":1}"), 5000, (uint8_t *)buf, sizeof buf, &len),
               XMCDP_STATUS_UNAUTHORIZED, NULL);
        CHECK(strstr(last_error(), "s3cret") == NULL, "the token leaked: %s", last_error());
        EXPECT(xmcdp_client_delete(w), XMCDP_STATUS_OK, NULL);
    }
}

static void test_log_next(void) {
    uint32_t level = 0;
    size_t need = 0, len = 0;
    char buf[4096];
    int records = 0;

    EXPECT(xmcdp_log_next(0, NULL, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NULL_POINTER, "out_level");
    /* A size query keeps the record queued; the next call with room returns it. */
    xmcdp_status_t s = xmcdp_log_next(1000, &level, NULL, 0, &need);
    CHECK(s == XMCDP_STATUS_BUFFER_TOO_SMALL, "first record size query: %s", name(s));
    if (s == XMCDP_STATUS_BUFFER_TOO_SMALL) {
        EXPECT(xmcdp_log_next(0, &level, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
        CHECK(len == need, "re-read record has %zu bytes, size query said %zu", len, need);
        CHECK(level >= 1 && level <= 4, "level %u", level);
    }
    while ((s = xmcdp_log_next(0, &level, (uint8_t *)buf, sizeof buf - 1, &len)) == XMCDP_STATUS_OK) {
        buf[len] = 0;
        records++;
        printf("log %u: %s\n", level, buf);
    }
    CHECK(s == XMCDP_STATUS_NO_RECORD, "drain ended with %s", name(s));
    EXPECT(xmcdp_log_next(10, &level, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NO_RECORD, NULL);
    (void)records;
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : getenv("XMCDP_EMULATOR_URL");
    const char *bid = argc > 2 ? argv[2] : getenv("XMCDP_BROWSER_ID");
    if (base == NULL || bid == NULL) {
        fprintf(stderr, "usage: smoke <emulator base url> <browser id>\n");
        return 2;
    }

    test_version_and_guard();
    test_bad_config(base);
    test_last_error_buffers();

    char json[512];
    snprintf(json, sizeof json,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
             "\"decisionTimeoutMs\":5000}",
             base);
    xmcdp_client_t c = 0;
    EXPECT(xmcdp_client_new(str(json), &c), XMCDP_STATUS_OK, NULL);
    CHECK(c != 0, "handle is 0");
    if (c != 0) {
        test_page_views(c, bid);
        test_identity(c, bid);
        test_custom_event(c, bid);
        test_decisions(c, bid);
        char guest_ref[256] = "";
        test_browser(c, bid, guest_ref);
        test_guests(base, guest_ref);
        test_stats(c);

        EXPECT(xmcdp_client_shutdown(c, 10000), XMCDP_STATUS_OK, NULL);
        EXPECT(xmcdp_client_shutdown(c, 10000), XMCDP_STATUS_OK, NULL); /* idempotent */
        xmcdp_event_t late;
        memset(&late, 0, sizeof late);
        late.common.browser_id = str(bid);
        late.event_type = S("LATE");
        EXPECT(xmcdp_client_event(c, &late), XMCDP_STATUS_SHUT_DOWN, NULL);
        test_stats(c); /* readable after shutdown */

        EXPECT(xmcdp_client_delete(c), XMCDP_STATUS_OK, NULL);
        EXPECT(xmcdp_client_delete(c), XMCDP_STATUS_INVALID_HANDLE, "handle"); /* double delete */
        EXPECT(xmcdp_client_shutdown(c, 0), XMCDP_STATUS_INVALID_HANDLE, NULL);
        size_t len = 0;
        EXPECT(xmcdp_client_stats(c, NULL, 0, &len), XMCDP_STATUS_INVALID_HANDLE, NULL);
    }

    /* A client deleted without shutdown (delete shuts it down itself). */
    xmcdp_client_t c2 = 0;
    EXPECT(xmcdp_client_new(str(json), &c2), XMCDP_STATUS_OK, NULL);
    CHECK(c2 != c, "handles are not reused");
    EXPECT(xmcdp_client_delete(c2), XMCDP_STATUS_OK, NULL);

    test_log_next();

    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
