/*  parse_svc.c - what only svc-catalogue items hold (/svc-catalogue/items):
    item_box.second_line, "size · condition" in either order, or one of
    the two, told apart by the condition labels of the site languages
    (parse_is_condition, parse.h). Everything else of an svc item is read by
    the item rules of parse_item.c, which understand both generations.
*/
#include "parse_internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Condition labels, lowercase. Vinted's five conditions in the site languages. */
static const char *const s_conditions[] = {
    /* en */ "new with tags", "new without tags", "very good", "good", "satisfactory",
    /* pt */ "novo com etiquetas", "novo com etiqueta", "novo sem etiquetas", "novo sem etiqueta",
    "muito bom", "bom", "satisfatório", "satisfatorio",
    /* fr */ "neuf avec étiquette", "neuf avec étiquettes", "neuf sans étiquette",
    "neuf sans étiquettes", "très bon état", "bon état", "satisfaisant", "état satisfaisant",
    /* de */ "neu mit etikett", "neu mit etiketten", "neu ohne etikett", "neu ohne etiketten",
    "sehr gut", "gut", "zufriedenstellend",
    /* es */ "nuevo con etiquetas", "nuevo con etiqueta", "nuevo sin etiquetas",
    "nuevo sin etiqueta", "muy bueno", "bueno", "satisfactorio",
    /* it */ "nuovo con cartellino", "nuovo senza cartellino", "nuovo con etichetta",
    "nuovo senza etichetta", "ottime condizioni", "buone condizioni", "discrete condizioni",
    "condizioni discrete", "ottimo", "buono", "discreto",
    /* pl */ "nowy z metką", "nowy z metkami", "nowy bez metki", "nowy bez metek", "bardzo dobry",
    "dobry", "zadowalający", "zadowalajacy",
    /* nl */ "nieuw met prijskaartje", "nieuw zonder prijskaartje", "nieuw met label",
    "nieuw zonder label", "zeer goed", "goed", "redelijk", "tevredenstellend",
    /* cs */ "nové s visačkou", "nové bez visačky", "velmi dobré", "velmi dobrý", "dobré", "dobrý",
    "uspokojivé", "uspokojivý",
    /* sk */ "nové so štítkom", "nové bez štítku", "veľmi dobrý", "veľmi dobré", "uspokojivý stav",
    /* sv */ "ny med prislapp", "ny utan prislapp", "nytt med prislapp", "nytt utan prislapp",
    "mycket bra", "bra", "tillfredsställande",
    /* da */ "ny med prismærke", "ny uden prismærke", "meget god", "god", "tilfredsstillende",
    /* fi */ "uusi, hintalapullinen", "uusi ilman hintalappua", "erittäin hyvä", "hyvä",
    "tyydyttävä",
    /* lt */ "nauja su etiketėmis", "nauja be etikečių", "labai gera", "gera", "patenkinama",
    /* ro */ "nou cu etichetă", "nou fără etichetă", "foarte bun", "bun", "satisfăcător",
    /* hu */ "új, címkével", "új, címke nélkül", "új címkével", "új címke nélkül", "nagyon jó",
    "jó", "kielégítő", "megfelelő",
    /* hr */ "novo s etiketom", "novo bez etikete", "vrlo dobro", "dobro", "zadovoljavajuće",
    /* el */ "καινούργιο με ετικέτα", "καινούργιο χωρίς ετικέτα", "πολύ καλή", "καλή",
    "ικανοποιητική",
    NULL,
};

/* Fold ASCII and Latin-1 capitals (À..Þ) of s, compare with a lowercase label. */
static bool
s_label_eq(const char *s, size_t n, const char *label)
{
    const unsigned char *a = (const unsigned char *) s;
    const unsigned char *b = (const unsigned char *) label;
    size_t i = 0;
    for (; i < n && *b; i++, b++) {
        unsigned char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char) (c + 32);
        else if (i > 0 && a[i - 1] == 0xC3 && c >= 0x80 && c <= 0x9E && c != 0x97)
            c = (unsigned char) (c + 32);
        if (c != *b)
            return false;
    }
    return i == n && *b == '\0';
}

bool
parse_is_condition(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '.'))
        len--;
    if (len == 0)
        return false;
    for (const char *const *l = s_conditions; *l; l++)
        if (s_label_eq(s, len, *l))
            return true;
    return false;
}

/* item_box.second_line: "size · condition", "condition" or "size". */
void
parse_second_line(const char *line, parse_span_t *size, parse_span_t *cond)
{
    static const char dot[] = "\xc2\xb7"; /* U+00B7 MIDDLE DOT */
    size->s = cond->s = NULL;
    size->n = cond->n = 0;
    if (!line)
        return;
    size_t len = strlen(line);
    const char *first = strstr(line, dot);
    if (!first) {
        parse_span_t whole = parse_trim(line, len);
        if (whole.n == 0)
            return;
        if (parse_is_condition(whole.s, whole.n))
            *cond = whole;
        else
            *size = whole;
        return;
    }
    const char *last = first;
    for (const char *p; (p = strstr(last + 2, dot));)
        last = p;
    parse_span_t head = parse_trim(line, (size_t) (first - line));
    parse_span_t tail = parse_trim(last + 2, len - (size_t) (last + 2 - line));
    if (!parse_is_condition(tail.s, tail.n) && parse_is_condition(head.s, head.n)) {
        /* "condition · size": the unusual order */
        *cond = head;
        *size = parse_trim(first + 2, len - (size_t) (first + 2 - line));
    }
    else {
        *cond = tail;
        *size = parse_trim(line, (size_t) (last - line));
    }
    if (size->n == 0)
        size->s = NULL;
    if (cond->n == 0)
        cond->s = NULL;
}

/* ------------------------------------------------------------------ test */

void
parse_svc_test(bool verbose)
{
    (void) verbose;
    proto_msg_t *out;
    const proto_item_t *it;

    /* svc second_line forms */
    static const struct {
        const char *line, *size, *kind, *value, *cond;
    } lines[] = {
        {"Muito bom", NULL, NULL, NULL, "Muito bom"},
        {"Very good", NULL, NULL, NULL, "Very good"},
        {"Neuf avec \xc3\xa9tiquette", NULL, NULL, NULL, "Neuf avec \xc3\xa9tiquette"},
        {"TR\xc3\x88S BON \xc3\x89TAT", NULL, NULL, NULL, "TR\xc3\x88S BON \xc3\x89TAT"},
        {"Nowy z metk\xc4\x85", NULL, NULL, NULL, "Nowy z metk\xc4\x85"},
        {"Sehr gut", NULL, NULL, NULL, "Sehr gut"},
        {"Muy bueno", NULL, NULL, NULL, "Muy bueno"},
        {"Ottime condizioni", NULL, NULL, NULL, "Ottime condizioni"},
        {"Zeer goed", NULL, NULL, NULL, "Zeer goed"},
        {"42", "42", "eu", "42", NULL},
        {"W32 | L34", "W32 | L34", "waist", "W32 L34", NULL},
        {"152 cm / 12 lat \xc2\xb7 Bardzo dobry", "152 cm / 12 lat", "age", "12y", "Bardzo dobry"},
        {"Tamanho \xc3\xbanico \xc2\xb7 Novo com etiquetas", "Tamanho \xc3\xbanico", "one", "one",
         "Novo com etiquetas"},
        {"Bom \xc2\xb7 38", "38", "eu", "38", "Bom"},
        {"S / 36 \xc2\xb7 Satisfat\xc3\xb3rio", "S / 36", "letter", "S", "Satisfat\xc3\xb3rio"},
        {"", NULL, NULL, NULL, NULL},
        {"  ", NULL, NULL, NULL, NULL},
        {" \xc2\xb7 Bom", NULL, NULL, NULL, "Bom"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char item[512];
        snprintf(item, sizeof item,
                 "{'id':%zu,'title':'T','price':{'amount':'1','currency_code':'EUR'},"
                 "'item_box':{'first_line':'B','second_line':'%s'}}",
                 i + 1, lines[i].line);
        out = parse_test_expect_item(item, "pt");
        it = &out->u.batch.items[0];
        parse_test_streq(it->size_title, lines[i].size);
        parse_test_streq(it->size_kind, lines[i].kind);
        parse_test_streq(it->size_value, lines[i].value);
        parse_test_streq(it->condition, lines[i].cond);
        proto_msg_destroy(&out);
    }

    /* the condition labels */
    assert(parse_is_condition("Muito bom", 9));
    assert(parse_is_condition("  very GOOD. ", 13));
    assert(parse_is_condition("Bardzo dobry", 12));
    assert(!parse_is_condition("M", 1));
    assert(!parse_is_condition("Muito", 5));
    assert(!parse_is_condition("Muito bom!", 10));
    assert(!parse_is_condition("", 0));
}
