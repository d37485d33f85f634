/*
 * A scripted visit through the xmcdp C ABI, as a site would drive it: an anonymous visitor browses, a
 * campaign link brings UTM parameters, the visitor logs in (IDENTITY), adds to cart, checks out and pays.
 * Used by `cargo xtask demo`.
 *
 * usage: visit <cdp base url> <browser id>
 */
#include "xmcdp.h"

#include <stdio.h>
#include <string.h>

#define S(lit) ((xmcdp_str_t){(const uint8_t *)(lit), sizeof(lit) - 1})

static xmcdp_str_t str(const char *s) { return (xmcdp_str_t){(const uint8_t *)s, strlen(s)}; }

static int report(const char *what, xmcdp_status_t st) {
    char msg[1024];
    size_t len = 0;
    if (st == XMCDP_STATUS_OK) {
        printf("  %-44s ok\n", what);
        return 0;
    }
    xmcdp_last_error((uint8_t *)msg, sizeof msg - 1, &len);
    msg[len] = 0;
    xmcdp_str_t name = xmcdp_status_name((uint32_t)st);
    printf("  %-44s %.*s: %s\n", what, (int)name.len, (const char *)name.ptr, msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <cdp base url> <browser id>\n", argv[0]);
        return 2;
    }
    if (xmcdp_api_guard() != XMCDP_API_HASH) {
        fprintf(stderr, "xmcdp library and header do not match\n");
        return 2;
    }
    char settings[1024];
    snprintf(settings, sizeof settings,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
             "\"currency\":\"EUR\",\"language\":\"EN\"}",
             argv[1]);
    xmcdp_client_t client = 0;
    int failed = report("xmcdp_client_new", xmcdp_client_new(str(settings), &client));
    if (failed) return 1;

    const char *ua = "Mozilla/5.0 (X11; Linux x86_64) xmcdp-demo";
    xmcdp_common_t who = {0};
    who.browser_id = str(argv[2]);

    printf("anonymous browsing\n");
    const char *pages[][2] = {{"Home Page", "/"},
                              {"bikes", "/products/bikes?utm_source=newsletter&utm_campaign=spring"},
                              {"mountain-x1", "/products/bikes/mountain-x1"}};
    for (int i = 0; i < 3; i++) {
        xmcdp_page_view_t v = {0};
        v.common = who;
        v.common.page = str(pages[i][0]);
        v.url = str(pages[i][1]);
        v.user_agent = str(ua);
        v.include_utm = 1;
        if (i == 0) v.referrer = S("https://www.google.com/");
        char what[96];
        snprintf(what, sizeof what, "VIEW %s", pages[i][1]);
        failed |= report(what, xmcdp_client_page_view(client, &v));
    }

    printf("login\n");
    xmcdp_identifier_t ids[1] = {{S("email"), S("jane.doe@example.com"), {0}}};
    xmcdp_identity_t id = {0};
    id.common = who;
    id.common.page = S("login");
    id.email = S("jane.doe@example.com");
    id.first_name = S("Jane");
    id.last_name = S("Doe");
    id.identifiers = ids;
    id.identifiers_len = 1;
    id.user_agent = str(ua);
    failed |= report("IDENTITY provider=email", xmcdp_client_identity(client, &id));

    printf("goal and conversion\n");
    xmcdp_event_t add = {0};
    add.common = who;
    add.common.page = S("mountain-x1");
    add.event_type = S("ADD");
    add.data_json = S("{\"product\":{\"type\":\"BIKE\",\"item_id\":\"SKU-X1\",\"name\":\"Mountain X1\","
                      "\"orderedAt\":\"2026-11-29T10:00:00.000Z\",\"quantity\":1,\"price\":899.0,"
                      "\"productId\":\"X1\",\"currency\":\"EUR\",\"referenceId\":\"R-1\"}}");
    add.ext_json = S("{\"color\":\"red\",\"frame\":{\"size\":\"L\"}}");
    failed |= report("ADD SKU-X1", xmcdp_client_event(client, &add));
    xmcdp_event_t checkout = {0};
    checkout.common = who;
    checkout.event_type = S("CHECKOUT");
    checkout.data_json = S("{\"reference_id\":\"ORD-1001\",\"status\":\"PURCHASED\"}");
    failed |= report("CHECKOUT ORD-1001", xmcdp_client_event(client, &checkout));
    xmcdp_event_t pay = {0};
    pay.common = who;
    pay.event_type = S("PAYMENT");
    pay.data_json = S("{\"pay_type\":\"Card\"}");
    failed |= report("PAYMENT Card", xmcdp_client_event(client, &pay));

    printf("bad input is refused with a status, nothing is lost\n");
    xmcdp_identity_t bad = id;
    bad.email = S("not-an-email");
    xmcdp_status_t st = xmcdp_client_identity(client, &bad);
    report("IDENTITY with email \"not-an-email\"", st);
    failed |= st != XMCDP_STATUS_INVALID_EMAIL;

    failed |= report("xmcdp_client_shutdown(5000 ms)", xmcdp_client_shutdown(client, 5000));
    char stats[8192];
    size_t len = 0;
    if (xmcdp_client_stats(client, (uint8_t *)stats, sizeof stats - 1, &len) == XMCDP_STATUS_OK) {
        stats[len] = 0;
        printf("library stats: %s\n", stats);
    }
    failed |= report("xmcdp_client_delete", xmcdp_client_delete(client));
    return failed ? 1 : 0;
}
