/* liquid.c -- Liquid render throughput on a realistic email.
 *
 * The message is a ~5 KB HTML email body with 20 variable references
 * (Braze ${...} attributes, custom attributes, event properties), 2
 * conditionals, a loop over a 10-element array of products and 5 filters,
 * rendered against one /users/export/ids-shaped user. The template is
 * compiled once and rendered in a loop on one thread with one reused
 * renderer, as the send path does per recipient. Prints renders/s, output
 * MB/s, the compile time and the ratio to the 200,000 renders/s target.
 * Usage: liquid [seconds] */
#include "lib/clock.h"
#include "liquid/liquid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char head[] =
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{{campaign.${name}}}</title>\n"
    "<style>\n body { margin: 0; padding: 0; background: #f4f4f4; font-family: Helvetica, Arial, sans-serif; }\n"
    " .wrap { width: 100%; max-width: 640px; margin: 0 auto; background: #ffffff; }\n"
    " .hero { padding: 32px 24px; background: #1a73e8; color: #ffffff; }\n"
    " .hero h1 { margin: 0; font-size: 28px; line-height: 34px; }\n"
    " .card { padding: 16px 24px; border-bottom: 1px solid #eeeeee; }\n"
    " .price { color: #d93025; font-weight: bold; }\n"
    " .footer { padding: 24px; font-size: 12px; color: #777777; line-height: 18px; }\n"
    " a.button { display: inline-block; padding: 12px 20px; background: #1a73e8; color: #fff; "
    "text-decoration: none; border-radius: 4px; }\n"
    "</style>\n</head>\n<body>\n"
    "<div style=\"display:none;max-height:0;overflow:hidden;\">Fresh picks for your summer runs, handpicked from "
    "what you browsed this month. Free shipping for members, easy returns within 60 days.</div>\n"
    "<div class=\"wrap\">\n"
    "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\"><tr>\n"
    "<td style=\"padding:16px 24px;\"><img src=\"https://cdn.example.com/brand/logo.png\" width=\"120\" "
    "height=\"32\" alt=\"Example Store\"></td>\n"
    "<td align=\"right\" style=\"padding:16px 24px;font-size:13px;\">"
    "<a href=\"https://shop.example.com/new\" style=\"color:#333;text-decoration:none;\">New in</a> &nbsp; "
    "<a href=\"https://shop.example.com/running\" style=\"color:#333;text-decoration:none;\">Running</a> &nbsp; "
    "<a href=\"https://shop.example.com/trail\" style=\"color:#333;text-decoration:none;\">Trail</a> &nbsp; "
    "<a href=\"https://shop.example.com/sale\" style=\"color:#d93025;text-decoration:none;\">Sale</a></td>\n"
    "</tr></table>\n"
    "<div class=\"hero\">\n<h1>Hi {{${first_name} | default: 'there' | capitalize}}, your summer picks are here</h1>\n"
    "<p>We put together a selection for {{${city}}} ({{${country}}}) based on what you looked at recently. "
    "Prices are valid until Sunday, and members get free shipping on every order.</p>\n</div>\n"
    "{% if custom_attribute.${tier} == 'gold' %}\n"
    "<div class=\"card\"><p>As a <strong>{{custom_attribute.${tier} | upcase}}</strong> member you have "
    "{{custom_attribute.${points}}} points, worth ${{custom_attribute.${balance} | money}} on your next order. "
    "Use code {{api_trigger_properties.${coupon}}} at checkout for an extra {{api_trigger_properties.${discount}}}% off.</p></div>\n"
    "{% else %}\n"
    "<div class=\"card\"><p>Join our loyalty program today and start earning points on every purchase. "
    "Members get early access to sales, free returns and a birthday gift every year.</p></div>\n"
    "{% endif %}\n";

static const char loop[] =
    "{% for p in custom_attribute.${recommendations} %}\n"
    "<div class=\"card\">\n<table width=\"100%\"><tr>\n"
    "<td width=\"96\"><img src=\"{{p.image}}\" width=\"96\" height=\"96\" alt=\"{{p.name}}\"></td>\n"
    "<td><h3>{{forloop.index}}. {{p.name}}</h3>\n<p>{{p.blurb}}</p>\n"
    "<p class=\"price\">${{p.price}}</p>\n"
    "<a class=\"button\" href=\"{{p.url}}?utm_source=email&utm_campaign={{campaign.${api_id}}}\">Shop now</a></td>\n"
    "</tr></table>\n</div>\n"
    "{% endfor %}\n";

static const char tail[] =
    "<div class=\"card\"><p>You last bought a {{event_properties.${item}}} on "
    "{{custom_attribute.${last_purchase} | date: '%B %-d, %Y'}}. Need a second pair? We kept your size: "
    "{{custom_attribute.${shoe_size}}}.</p></div>\n"
    "{% if ${email_address} contains '@example.com' %}<div class=\"card\"><p>Colleague preview copy.</p></div>{% endif %}\n"
    "<div class=\"footer\">\n<p>This email was sent to {{${email_address}}} because you subscribed to news from "
    "Example Store. {{${first_name}}} {{${last_name}}}, member {{${user_id}}}.</p>\n"
    "<p>Example Store, 1 Market Street, {{${city}}}. You can update your preferences or unsubscribe at any time "
    "from your account page. Prices include VAT where applicable. Offers cannot be combined.</p>\n"
    "<p>Message {{campaign.${message_name}}} in {{${language}}} for {{${time_zone}}}.</p>\n"
    "<p>Questions? Reply to this email or call us, we answer every day from 8am to 8pm local time. "
    "Our team is happy to help with sizes, returns, gift cards and anything else you need.</p>\n"
    "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\"><tr>\n"
    "<td align=\"center\" style=\"padding:8px;\"><a href=\"https://social.example.com/examplestore\">"
    "<img src=\"https://cdn.example.com/icons/social-1.png\" width=\"24\" height=\"24\" alt=\"Social\"></a></td>\n"
    "<td align=\"center\" style=\"padding:8px;\"><a href=\"https://photos.example.com/examplestore\">"
    "<img src=\"https://cdn.example.com/icons/social-2.png\" width=\"24\" height=\"24\" alt=\"Photos\"></a></td>\n"
    "<td align=\"center\" style=\"padding:8px;\"><a href=\"https://video.example.com/examplestore\">"
    "<img src=\"https://cdn.example.com/icons/social-3.png\" width=\"24\" height=\"24\" alt=\"Video\"></a></td>\n"
    "</tr></table>\n"
    "<p style=\"font-size:11px;color:#999;\">Example Store SAS, capital 100,000 EUR, registered in Paris. "
    "Trail Runner is a trademark of Example Store. Images are for illustration only; colours may vary. "
    "Stock is limited and may run out before the end of the offer. See the full terms on our website.</p>\n"
    "</div>\n</div>\n</body>\n</html>\n";

static json_object *user(void) {
    json_object *u = json_tokener_parse(
        "{\"external_id\":\"user-42\",\"first_name\":\"jane\",\"last_name\":\"Doe\","
        "\"email\":\"jane.doe@example.com\",\"country\":\"FR\",\"language\":\"fr\","
        "\"time_zone\":\"Europe/Paris\",\"home_city\":\"Paris\",\"dob\":\"1990-05-17\","
        "\"custom_attributes\":{\"tier\":\"gold\",\"points\":1250,\"balance\":12.5,\"shoe_size\":39,"
        "\"last_purchase\":\"2021-06-03T17:13:41Z\",\"recommendations\":[]},"
        "\"event_properties\":{\"item\":\"Running Shoe\"},"
        "\"api_trigger_properties\":{\"coupon\":\"SUMMER10\",\"discount\":10},"
        "\"campaign\":{\"name\":\"Summer Picks\",\"api_id\":\"cmp-7\",\"message_name\":\"Email A\"}}");
    json_object *ca, *recs;
    json_object_object_get_ex(u, "custom_attributes", &ca);
    json_object_object_get_ex(ca, "recommendations", &recs);
    for (int i = 0; i < 10; i++) {
        char buf[512];
        snprintf(buf, sizeof buf,
                 "{\"name\":\"Trail Runner %d\",\"price\":\"%d.99\",\"image\":\"https://cdn.example.com/p/%d.jpg\","
                 "\"url\":\"https://shop.example.com/p/%d\",\"blurb\":\"Light, grippy and ready for long "
                 "summer runs.\"}",
                 i + 1, 59 + i * 10, 1000 + i, 1000 + i);
        json_object_array_add(recs, json_tokener_parse(buf));
    }
    return u;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    size_t n = strlen(head) + strlen(loop) + strlen(tail);
    char *src = malloc(n + 1);
    snprintf(src, n + 1, "%s%s%s", head, loop, tail);
    liq_template *t;
    liq_error err;
    int64_t c0 = clock_mono_us();
    int compiles = 0;
    while (clock_mono_us() - c0 < 200000) {
        if (liq_compile(src, n, &t, &err)) {
            fprintf(stderr, "compile: %d:%d: %s\n", err.line, err.col, err.message);
            return 1;
        }
        liq_template_free(t);
        compiles++;
    }
    double compile_us = (double)(clock_mono_us() - c0) / compiles;
    liq_compile(src, n, &t, &err);
    json_object *u = user();
    liq_renderer *r = liq_renderer_new();
    liq_render_opts o = {.context = u, .now_ms = 1628100793000LL};
    liq_result res;
    if (liq_render(r, t, &o, &res)) {
        fprintf(stderr, "render: %d:%d: %s\n", res.err.line, res.err.col, res.err.message);
        return 1;
    }
    size_t outlen = res.len;
    if (getenv("LIQ_BENCH_PRINT")) fwrite(res.out, 1, res.len, stdout);
    long renders = 0;
    int64_t t0 = clock_mono_us(), deadline = t0 + (int64_t)(seconds * 1e6), now = t0;
    while (now < deadline) {
        for (int i = 0; i < 1000; i++) {
            if (liq_render(r, t, &o, &res)) return 1;
        }
        renders += 1000;
        now = clock_mono_us();
    }
    double secs = (double)(now - t0) / 1e6, rps = renders / secs;
    printf("liquid: template %zu bytes, output %zu bytes, compile %.1f us\n", n, outlen, compile_us);
    printf("liquid: %.0f renders/s on one core (%.2f us/render, %.0f MB/s of output)\n", rps, 1e6 / rps,
           rps * (double)outlen / 1e6);
    printf("liquid: target 200,000 renders/s: %.2fx\n", rps / 200000.0);
    liq_renderer_free(r);
    liq_template_free(t);
    json_object_put(u);
    free(src);
    return 0;
}
