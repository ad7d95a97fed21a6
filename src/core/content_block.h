/* content_block.h -- Braze's Content Blocks: the rules a block obeys, with
 * no HTTP and no SQL (api/content_blocks.c checks requests with them,
 * store/content_blocks.c applies the ones that need the stored block).
 *
 * A block is named reusable Liquid: a message includes it with
 * {{content_blocks.${NAME}}} (or {% content_blocks.${NAME} %}), and the
 * tag is replaced by the block's current content at send time. Names are
 * at most 99 characters of [A-Za-z0-9_-]; content is at most 50 KiB - 1
 * bytes and must compile as Liquid; a block may not include itself. Its
 * state is active or draft: an active block keeps its name (messages
 * reference it by name) and never goes back to draft.
 *
 * Every function returns 0 or a BR_E* code whose message is Braze's text
 * (lib/err.h, the BR_ECB* group). */
#ifndef BR_CONTENT_BLOCK_H
#define BR_CONTENT_BLOCK_H
#include <stdbool.h>
#include <stddef.h>

#define CBLOCK_NAME_MAX 99               /* characters: "shorter than 100" */
#define CBLOCK_DESCRIPTION_MAX 249       /* characters: "shorter than 250" */
#define CBLOCK_CONTENT_MAX (50 * 1024 - 1) /* bytes: "smaller than 50kb" */
#define CBLOCK_TAG_MAX (CBLOCK_NAME_MAX + 24) /* cblock_liquid_tag's output, with its NUL */

typedef enum { CBLOCK_ACTIVE = 0, CBLOCK_DRAFT = 1 } cblock_state;

/* name[0..n) (valid UTF-8): 0, BR_ECBNAMEBLANK (empty or only
 * whitespace), BR_ECBNAMELONG, BR_ECBNAMECHARS. */
int cblock_check_name(const char *name, size_t n);
/* A description given in a request: 0, BR_ECBDESCBLANK (only whitespace
 * or empty), BR_ECBDESCLONG. */
int cblock_check_description(const char *s, size_t n);
/* Content: 0, BR_ECBCONTENTBLANK, BR_ECBCONTENTBIG, or BR_ECBLIQUID with
 * the compiler's "line:col: message" in why (liquid/liquid.h). */
int cblock_check_content(const char *s, size_t n, char *why, size_t whylen);
/* "active" / "draft" -> *out: 0 or BR_ECBSTATE. */
int cblock_parse_state(const char *s, cblock_state *out);
const char *cblock_state_name(cblock_state s);

/* The update rules of a stored block in state `was` named old_name: a new
 * name (NULL: unchanged) on an active block is BR_ECBRENAME unless it is
 * the same; a new state (NULL: unchanged) of draft on an active block is
 * BR_ECBTODRAFT. */
int cblock_check_update(cblock_state was, const char *old_name, const char *new_name, const cblock_state *new_state);

/* "html" when s[0..n) looks like HTML (an element tag such as <p>, </div>,
 * <br/>, a comment or a doctype), else "text": Braze's content_type. */
const char *cblock_content_type(const char *s, size_t n);
/* Writes "{{content_blocks.${NAME}}}" into out (CBLOCK_TAG_MAX bytes fit
 * any valid name). */
void cblock_liquid_tag(const char *name, char *out, size_t outlen);

/* Calls fn(ud, name, len) for each content block the Liquid source
 * src[0..len) references, in order, repeats included:
 * {{content_blocks.${NAME}}}, {% content_blocks.${NAME} %} and the
 * content_blocks.NAME spellings, inside output and tags only (not in
 * text, string literals, raw or comment). Stops when fn returns non-zero
 * and returns that value; 0 once every reference was seen. For the
 * self-reference rule, and for code that must know which blocks a
 * message uses (Braze's inclusion_count counts live message variations
 * that reference a block; a template's "valid Content Block names"). */
typedef int (*cblock_ref_fn)(void *ud, const char *name, size_t len);
int cblock_refs(const char *src, size_t len, cblock_ref_fn fn, void *ud);
/* Whether src[0..len) references the block named name. */
bool cblock_refers_to(const char *src, size_t len, const char *name);

#endif
