/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_lexer.c: tests for query/lexer.c, the PromQL lexer and its Go-compatible quoting.
 *
 * Table-driven: each case is an input and the expected token stream written as
 * "TYPE:text" words separated by spaces (EOF last), or an "ERROR@pos:message" word for
 * the lexing error. Cases follow Prometheus 2.42's lex_test.go where they apply (after
 * an error this lexer yields only EOF, where Go's may continue).
 */
#include "query/ast.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *tok_sym(query_tok t)
{
	static const char *const names[] = {
	    [QUERY_TOK_EOF] = "EOF",
	    [QUERY_TOK_ERROR] = "ERROR",
	    [QUERY_TOK_COMMENT] = "COMMENT",
	    [QUERY_TOK_IDENTIFIER] = "ID",
	    [QUERY_TOK_METRIC_IDENTIFIER] = "MID",
	    [QUERY_TOK_NUMBER] = "NUM",
	    [QUERY_TOK_STRING] = "STR",
	    [QUERY_TOK_DURATION] = "DUR",
	    [QUERY_TOK_LEFT_PAREN] = "LPAREN",
	    [QUERY_TOK_RIGHT_PAREN] = "RPAREN",
	    [QUERY_TOK_LEFT_BRACE] = "LBRACE",
	    [QUERY_TOK_RIGHT_BRACE] = "RBRACE",
	    [QUERY_TOK_LEFT_BRACKET] = "LBRACKET",
	    [QUERY_TOK_RIGHT_BRACKET] = "RBRACKET",
	    [QUERY_TOK_COMMA] = "COMMA",
	    [QUERY_TOK_EQL] = "EQL",
	    [QUERY_TOK_COLON] = "COLON",
	    [QUERY_TOK_ADD] = "ADD",
	    [QUERY_TOK_SUB] = "SUB",
	    [QUERY_TOK_MUL] = "MUL",
	    [QUERY_TOK_DIV] = "DIV",
	    [QUERY_TOK_MOD] = "MOD",
	    [QUERY_TOK_POW] = "POW",
	    [QUERY_TOK_EQLC] = "EQLC",
	    [QUERY_TOK_NEQ] = "NEQ",
	    [QUERY_TOK_LTE] = "LTE",
	    [QUERY_TOK_LSS] = "LSS",
	    [QUERY_TOK_GTE] = "GTE",
	    [QUERY_TOK_GTR] = "GTR",
	    [QUERY_TOK_EQL_REGEX] = "EQL_REGEX",
	    [QUERY_TOK_NEQ_REGEX] = "NEQ_REGEX",
	    [QUERY_TOK_AT] = "AT",
	    [QUERY_TOK_LAND] = "LAND",
	    [QUERY_TOK_LOR] = "LOR",
	    [QUERY_TOK_LUNLESS] = "LUNLESS",
	    [QUERY_TOK_ATAN2] = "ATAN2",
	    [QUERY_TOK_AVG] = "AVG",
	    [QUERY_TOK_BOTTOMK] = "BOTTOMK",
	    [QUERY_TOK_COUNT] = "COUNT",
	    [QUERY_TOK_COUNT_VALUES] = "COUNT_VALUES",
	    [QUERY_TOK_GROUP] = "GROUP",
	    [QUERY_TOK_MAX] = "MAX",
	    [QUERY_TOK_MIN] = "MIN",
	    [QUERY_TOK_QUANTILE] = "QUANTILE",
	    [QUERY_TOK_STDDEV] = "STDDEV",
	    [QUERY_TOK_STDVAR] = "STDVAR",
	    [QUERY_TOK_SUM] = "SUM",
	    [QUERY_TOK_TOPK] = "TOPK",
	    [QUERY_TOK_BOOL] = "BOOL",
	    [QUERY_TOK_BY] = "BY",
	    [QUERY_TOK_GROUP_LEFT] = "GROUP_LEFT",
	    [QUERY_TOK_GROUP_RIGHT] = "GROUP_RIGHT",
	    [QUERY_TOK_IGNORING] = "IGNORING",
	    [QUERY_TOK_OFFSET] = "OFFSET",
	    [QUERY_TOK_ON] = "ON",
	    [QUERY_TOK_WITHOUT] = "WITHOUT",
	    [QUERY_TOK_START] = "START",
	    [QUERY_TOK_END] = "END",
	};
	return names[t] ? names[t] : "?";
}

/* The token stream of in[0..len) in the table's notation. */
static void lex_all(const char *in, size_t len, char *out, size_t cap)
{
	query_lexer l;
	query_lexer_init(&l, in, len);
	size_t w = 0;
	out[0] = '\0';
	for (int guard = 0; guard < 1000; guard++) {
		query_token t;
		query_lexer_next(&l, &t);
		int n;
		if (t.type == QUERY_TOK_ERROR)
			n = snprintf(out + w, cap - w, "%sERROR@%u:%s", w ? " " : "", t.pos,
				     l.err_msg);
		else
			n = snprintf(out + w, cap - w, "%s%s:%.*s", w ? " " : "", tok_sym(t.type),
				     (int)t.len, in + t.pos);
		if (n > 0 && (size_t)n < cap - w)
			w += (size_t)n;
		if (t.type == QUERY_TOK_EOF || t.type == QUERY_TOK_ERROR)
			break;
	}
}

typedef struct lex_case {
	const char *in;
	const char *want;
} lex_case;

static void run_cases(const lex_case *cases, size_t n)
{
	char got[4096];
	for (size_t i = 0; i < n; i++) {
		lex_all(cases[i].in, strlen(cases[i].in), got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0) {
			print_error("input:  %s\nwant:   %s\ngot:    %s\n", cases[i].in,
				    cases[i].want, got);
			fail();
		}
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_query_lexer_next_common(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {",", "COMMA:, EOF:"},
	    {"()", "LPAREN:( RPAREN:) EOF:"},
	    {"{}", "LBRACE:{ RBRACE:} EOF:"},
	    {"[5m]", "LBRACKET:[ DUR:5m RBRACKET:] EOF:"},
	    {"[ 5m]", "LBRACKET:[ DUR:5m RBRACKET:] EOF:"},
	    {"[  5m]", "LBRACKET:[ DUR:5m RBRACKET:] EOF:"},
	    {"[  5m ]", "LBRACKET:[ DUR:5m RBRACKET:] EOF:"},
	    {"\r\n\r", "EOF:"},
	    {"", "EOF:"},
	    {"  \t ", "EOF:"},
	    {"@", "AT:@ EOF:"},
	};
	RUN(cases);
}

static void test_query_lexer_next_numbers(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"1", "NUM:1 EOF:"},
	    {"4.23", "NUM:4.23 EOF:"},
	    {".3", "NUM:.3 EOF:"},
	    {"5.", "NUM:5. EOF:"},
	    {"NaN", "NUM:NaN EOF:"},
	    {"nAN", "NUM:nAN EOF:"},
	    {"NaN 123", "NUM:NaN NUM:123 EOF:"},
	    {"NaN123", "ID:NaN123 EOF:"},
	    {"iNf", "NUM:iNf EOF:"},
	    {"Inf", "NUM:Inf EOF:"},
	    {"+Inf", "ADD:+ NUM:Inf EOF:"},
	    {"+Inf 123", "ADD:+ NUM:Inf NUM:123 EOF:"},
	    {"-Inf", "SUB:- NUM:Inf EOF:"},
	    {"Infoo", "ID:Infoo EOF:"},
	    {"-Infoo", "SUB:- ID:Infoo EOF:"},
	    {"-Inf 123", "SUB:- NUM:Inf NUM:123 EOF:"},
	    {"0x123", "NUM:0x123 EOF:"},
	    {"0X1aF", "NUM:0X1aF EOF:"},
	    {"1e5", "NUM:1e5 EOF:"},
	    {"1E-5", "NUM:1E-5 EOF:"},
	    {"1e+5", "NUM:1e+5 EOF:"},
	    {"0755", "NUM:0755 EOF:"},
	    {"2.5.", "NUM:2.5 ERROR@3:unexpected character: '.'"},
	    {"100..4", "NUM:100. NUM:.4 EOF:"},
	    {"0deadbeef", "ERROR@0:bad number or duration syntax: \"0de\""},
	    {"1_000", "ERROR@0:bad number or duration syntax: \"1\""},
	    {"1x", "ERROR@0:bad number or duration syntax: \"1\""},
	    {"1e", "NUM:1e EOF:"},
	    {".", "ERROR@0:unexpected character: '.'"},
	    {".x", "ERROR@0:unexpected character: '.'"},
	};
	RUN(cases);
}

static void test_query_lexer_next_strings(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"\"test\\tsequence\"", "STR:\"test\\tsequence\" EOF:"},
	    {"\"test\\\\.expression\"", "STR:\"test\\\\.expression\" EOF:"},
	    {"\"test\\.expression\"", "ERROR@0:unknown escape sequence U+002E '.'"},
	    {"`test\\.expression`", "STR:`test\\.expression` EOF:"},
	    {".٩", "ERROR@0:unexpected character: '.'"},
	    {"'single'", "STR:'single' EOF:"},
	    {"'it\\'s'", "STR:'it\\'s' EOF:"},
	    {"\"it\\'s\"", "ERROR@0:unknown escape sequence U+0027 '''"},
	    {"'\\\"'", "ERROR@0:unknown escape sequence U+0022 '\"'"},
	    {"\"\\x41\\101\\u00e9\\U0001F600\"", "STR:\"\\x41\\101\\u00e9\\U0001F600\" EOF:"},
	    {"\"\\x4\"", "ERROR@0:illegal character U+0022 '\"' in escape sequence"},
	    {"\"\\xZZ\"", "ERROR@0:illegal character U+005A 'Z' in escape sequence"},
	    {"\"\\400\"", "ERROR@0:escape sequence is an invalid Unicode code point"},
	    {"\"\\ud800\"", "ERROR@0:escape sequence is an invalid Unicode code point"},
	    {"\"\\U00110000\"", "ERROR@0:escape sequence is an invalid Unicode code point"},
	    {"\"\\", "ERROR@0:escape sequence not terminated"},
	    {"\"\\x", "ERROR@0:escape sequence not terminated"},
	    {"\"abc", "ERROR@0:unterminated quoted string"},
	    {"\"a\nb\"", "ERROR@0:unterminated quoted string"},
	    {"`a\nb`", "STR:`a\nb` EOF:"},
	    {"`abc", "ERROR@0:unterminated raw string"},
	    {"\"\xff\"", "ERROR@0:invalid UTF-8 rune"},
	    {"`\xff`", "ERROR@0:invalid UTF-8 rune"},
	    {"x \"\\q\"", "ID:x ERROR@2:unknown escape sequence U+0071 'q'"},
	    {"\"\\\n\"", "ERROR@0:unknown escape sequence U+000A"},
	    {"\"中文\"", "STR:\"中文\" EOF:"},
	    {"''", "STR:'' EOF:"},
	};
	RUN(cases);
}

static void test_query_lexer_next_durations(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"5s", "DUR:5s EOF:"},
	    {"123m", "DUR:123m EOF:"},
	    {"1h", "DUR:1h EOF:"},
	    {"3w", "DUR:3w EOF:"},
	    {"1y", "DUR:1y EOF:"},
	    {"1h30m", "DUR:1h30m EOF:"},
	    {"250ms", "DUR:250ms EOF:"},
	    {"1.5m", "DUR:1.5m EOF:"},
	    {"5ys", "DUR:5ys EOF:"},
	    {"1mm", "ERROR@0:bad number or duration syntax: \"1mm\""},
	    {"1m1", "ERROR@0:bad number or duration syntax: \"1m1\""},
	    {"[5]", "LBRACKET:[ ERROR@1:missing unit character in duration"},
	    {"[]", "LBRACKET:[ ERROR@1:missing unit character in duration"},
	    {"[5mx]", "LBRACKET:[ ERROR@1:bad duration syntax: \"5mx\""},
	    {"[ x]", "LBRACKET:[ ERROR@2:bad duration syntax: \"\""},
	    {"[5m", "LBRACKET:[ DUR:5m ERROR@3:unclosed left bracket"},
	};
	RUN(cases);
}

static void test_query_lexer_next_identifiers(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"abc", "ID:abc EOF:"},
	    {"a:bc", "MID:a:bc EOF:"},
	    {":bc", "MID::bc EOF:"},
	    {":", "MID:: EOF:"},
	    {"abc d", "ID:abc ID:d EOF:"},
	    {"_x9", "ID:_x9 EOF:"},
	    {"0a:bc", "ERROR@0:bad number or duration syntax: \"0\""},
	    {"abc\xff", "ID:abc ERROR@3:unexpected character: '\xef\xbf\xbd'"},
	    {"é", "ERROR@0:unexpected character: 'é'"},
	};
	RUN(cases);
}

static void test_query_lexer_next_keywords(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"offset", "OFFSET:offset EOF:"},
	    {"by", "BY:by EOF:"},
	    {"without", "WITHOUT:without EOF:"},
	    {"on", "ON:on EOF:"},
	    {"ignoring", "IGNORING:ignoring EOF:"},
	    {"group_left", "GROUP_LEFT:group_left EOF:"},
	    {"group_right", "GROUP_RIGHT:group_right EOF:"},
	    {"bool", "BOOL:bool EOF:"},
	    {"atan2", "ATAN2:atan2 EOF:"},
	    {"start", "START:start EOF:"},
	    {"end", "END:end EOF:"},
	    {"BY OffSet", "BY:BY OFFSET:OffSet EOF:"},
	    {"sum avg count min max group stddev stdvar topk bottomk count_values quantile",
	     "SUM:sum AVG:avg COUNT:count MIN:min MAX:max GROUP:group STDDEV:stddev "
	     "STDVAR:stdvar TOPK:topk BOTTOMK:bottomk COUNT_VALUES:count_values "
	     "QUANTILE:quantile EOF:"},
	    {"and or unless", "LAND:and LOR:or LUNLESS:unless EOF:"},
	    {"sum_over_time", "ID:sum_over_time EOF:"},
	};
	RUN(cases);
}

static void test_query_lexer_next_operators(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"=", "EQL:= EOF:"},
	    {"==", "EQLC:== EOF:"},
	    {"!=", "NEQ:!= EOF:"},
	    {">", "GTR:> EOF:"},
	    {">=", "GTE:>= EOF:"},
	    {"<", "LSS:< EOF:"},
	    {"<=", "LTE:<= EOF:"},
	    {"+", "ADD:+ EOF:"},
	    {"-", "SUB:- EOF:"},
	    {"*", "MUL:* EOF:"},
	    {"/", "DIV:/ EOF:"},
	    {"^", "POW:^ EOF:"},
	    {"%", "MOD:% EOF:"},
	    {"a+b-c", "ID:a ADD:+ ID:b SUB:- ID:c EOF:"},
	    {"=~", "ERROR@0:unexpected character after '=': '~'"},
	    {"!~", "ERROR@0:unexpected character after '!': '~'"},
	    {"!", "ERROR@0:unexpected character after '!': '\xef\xbf\xbd'"},
	    {"!x", "ERROR@0:unexpected character after '!': 'x'"},
	    {"&", "ERROR@0:unexpected character: '&'"},
	    {"}", "ERROR@0:unexpected character: '}'"},
	    {"\x01", "ERROR@0:unexpected character: '\\x01'"},
	    {"\xc2\xa0", "ERROR@0:unexpected character: '\\u00a0'"},
	};
	RUN(cases);
}

static void test_query_lexer_next_selectors(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"{foo=\"bar\"}", "LBRACE:{ ID:foo EQL:= STR:\"bar\" RBRACE:} EOF:"},
	    {"{ foo = \"bar\" }", "LBRACE:{ ID:foo EQL:= STR:\"bar\" RBRACE:} EOF:"},
	    {"{NaN!~'x', on=~`y`, by!=\"z\"}",
	     "LBRACE:{ ID:NaN NEQ_REGEX:!~ STR:'x' COMMA:, ID:on EQL_REGEX:=~ STR:`y` COMMA:, "
	     "ID:by NEQ:!= STR:\"z\" RBRACE:} EOF:"},
	    {"foo{a=\"b\"}[5m]",
	     "ID:foo LBRACE:{ ID:a EQL:= STR:\"b\" RBRACE:} LBRACKET:[ DUR:5m RBRACKET:] EOF:"},
	    {"{a:b=\"c\"}", "LBRACE:{ ID:a ERROR@2:unexpected character inside braces: ':'"},
	    {"{1=\"c\"}", "LBRACE:{ ERROR@1:unexpected character inside braces: '1'"},
	    {"{a!x}", "LBRACE:{ ID:a ERROR@2:unexpected character after '!' inside braces: 'x'"},
	    {"{{", "LBRACE:{ ERROR@1:unexpected left brace '{'"},
	    {"{a", "LBRACE:{ ID:a ERROR@2:unexpected end of input inside braces"},
	    {"{a # comment\n=\"b\"}",
	     "LBRACE:{ ID:a COMMENT:# comment EQL:= STR:\"b\" RBRACE:} EOF:"},
	};
	RUN(cases);
}

static void test_query_lexer_next_comments(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"# some comment", "COMMENT:# some comment EOF:"},
	    {"5 # 1+1\n5", "NUM:5 COMMENT:# 1+1 NUM:5 EOF:"},
	    {"#\r\nx", "COMMENT:# ID:x EOF:"},
	};
	RUN(cases);
}

static void test_query_lexer_next_brackets(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"test_name{on!~\"bar\"}[4m:4s]",
	     "ID:test_name LBRACE:{ ID:on NEQ_REGEX:!~ STR:\"bar\" RBRACE:} LBRACKET:[ DUR:4m "
	     "COLON:: DUR:4s RBRACKET:] EOF:"},
	    {"test:name[ 5m]", "MID:test:name LBRACKET:[ DUR:5m RBRACKET:] EOF:"},
	    {"x[5m:]", "ID:x LBRACKET:[ DUR:5m COLON:: RBRACKET:] EOF:"},
	    {"x[5m : 1m]", "ID:x LBRACKET:[ DUR:5m COLON:: DUR:1m RBRACKET:] EOF:"},
	    {"x[5m x]", "ID:x LBRACKET:[ DUR:5m COLON:x RBRACKET:] EOF:"},
	    {"x[5m::]", "ID:x LBRACKET:[ DUR:5m COLON:: ERROR@5:unexpected colon ':'"},
	    {"x[5m:x]", "ID:x LBRACKET:[ DUR:5m COLON:: ERROR@5:unexpected colon 'x'"},
	    {"x[[", "ID:x LBRACKET:[ ERROR@2:missing unit character in duration"},
	    {"x[5m[", "ID:x LBRACKET:[ DUR:5m ERROR@4:unexpected left bracket '['"},
	    {"]", "ERROR@0:unexpected right bracket ']'"},
	    {"x[5m] @ 100", "ID:x LBRACKET:[ DUR:5m RBRACKET:] AT:@ NUM:100 EOF:"},
	    {"x offset 5m", "ID:x OFFSET:offset DUR:5m EOF:"},
	};
	RUN(cases);
}

static void test_query_lexer_next_parens(void **state)
{
	(void)state;
	static const lex_case cases[] = {
	    {"(", "LPAREN:( ERROR@1:unclosed left parenthesis"},
	    {"((1)", "LPAREN:( LPAREN:( NUM:1 RPAREN:) ERROR@4:unclosed left parenthesis"},
	    {"(1))", "LPAREN:( NUM:1 RPAREN:) ERROR@4:unexpected right parenthesis ')'"},
	    {"sum(x) by (a)", "SUM:sum LPAREN:( ID:x RPAREN:) BY:by LPAREN:( ID:a RPAREN:) EOF:"},
	};
	RUN(cases);
}

/* After an error the lexer keeps returning EOF at the same place. */
static void test_query_lexer_next_after_error(void **state)
{
	(void)state;
	query_lexer l;
	query_token t;
	query_lexer_init(&l, "a $ b", 5);
	query_lexer_next(&l, &t);
	assert_int_equal(t.type, QUERY_TOK_IDENTIFIER);
	query_lexer_next(&l, &t);
	assert_int_equal(t.type, QUERY_TOK_ERROR);
	assert_int_equal(t.pos, 2);
	for (int i = 0; i < 3; i++) {
		query_lexer_next(&l, &t);
		assert_int_equal(t.type, QUERY_TOK_EOF);
		assert_int_equal(t.len, 0);
	}
}

/* Input with NUL bytes is lexed by length, not as a C string. */
static void test_query_lexer_next_nul_byte(void **state)
{
	(void)state;
	char got[256];
	lex_all("a\0b", 3, got, sizeof(got));
	assert_string_equal(got, "ID:a ERROR@1:unexpected character: '\\x00'");
}

static void test_query_token_desc_forms(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
	    {"", "end of input"},
	    {"foo", "identifier \"foo\""},
	    {"a:b", "metric identifier \"a:b\""},
	    {"123", "number \"123\""},
	    {"12345678901234", "number \"1234567890\"..."},
	    {"\"abc\"", "string \"\\\"abc\\\"\""},
	    {"\"abcdefghijklm\"", "string \"\\\"abcdefghi\"..."},
	    {"5m", "duration \"5m\""},
	    {"(", "\"(\""},
	    {",", "\",\""},
	    {"=", "\"=\""},
	    {"*", "<op:*>"},
	    {"==", "<op:==>"},
	    {"AND", "<op:AND>"},
	    {"@", "<op:@>"},
	    {"atan2", "<op:atan2>"},
	    {"Sum", "<aggr:Sum>"},
	    {"count_values", "<aggr:count_values>"},
	    {"by", "<by>"},
	    {"GROUP_LEFT", "<GROUP_LEFT>"},
	    {"start", "\"start\""},
	    {"end", "\"end\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		query_lexer l;
		query_token t;
		query_lexer_init(&l, cases[i].in, strlen(cases[i].in));
		query_lexer_next(&l, &t);
		ts_buf b;
		ts_buf_init(&b, 1024);
		assert_int_equal(query_token_desc(&t, cases[i].in, &b), TS_OK);
		if (strcmp(b.data, cases[i].want) != 0) {
			print_error("input %s: want %s got %s\n", cases[i].in, cases[i].want,
				    b.data);
			fail();
		}
		ts_buf_free(&b);
	}
}

static void test_query_quote_go_rules(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"abc", 3, "\"abc\""},
	    {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
	    {"'", 1, "\"'\""},
	    {"\a\b\f\n\r\t\v", 7, "\"\\a\\b\\f\\n\\r\\t\\v\""},
	    {"\x01\x7f", 2, "\"\\x01\\x7f\""},
	    {"\0", 1, "\"\\x00\""},
	    {"\xff", 1, "\"\\xff\""},
	    {"\xe2\x82", 2, "\"\\xe2\\x82\""},
	    {"é中😀", 9, "\"é中😀\""},
	    {"\xc2\xa0", 2, "\"\\u00a0\""},
	    {"\xc2\x85", 2, "\"\\u0085\""},
	    {"\xe2\x80\xa8", 3, "\"\\u2028\""},
	    {"\xef\xbb\xbf", 3, "\"\\ufeff\""},
	    {"\xee\x80\x80", 3, "\"\\ue000\""},
	    {"\xf3\xa0\x80\x81", 4, "\"\\U000e0001\""},
	    {"\xef\xbf\xbd", 3, "\"\xef\xbf\xbd\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ts_buf b;
		ts_buf_init(&b, 1024);
		assert_int_equal(query_quote(&b, cases[i].in, cases[i].len), TS_OK);
		if (strcmp(b.data, cases[i].want) != 0) {
			print_error("case %zu: want %s got %s\n", i, cases[i].want, b.data);
			fail();
		}
		ts_buf_free(&b);
	}
}

static void test_query_quote_rune_forms(void **state)
{
	(void)state;
	static const struct {
		int32_t r;
		const char *q;
		const char *u;
	} cases[] = {
	    {'a', "'a'", "U+0061 'a'"},
	    {'\'', "'\\''", "U+0027 '''"},
	    {'"', "'\"'", "U+0022 '\"'"},
	    {'\\', "'\\\\'", "U+005C '\\'"},
	    {'\n', "'\\n'", "U+000A"},
	    {0, "'\\x00'", "U+0000"},
	    {0x7f, "'\\x7f'", "U+007F"},
	    {0xa0, "'\\u00a0'", "U+00A0"},
	    {0xe9, "'é'", "U+00E9 'é'"},
	    {0x1F600, "'😀'", "U+1F600 '😀'"},
	    {0x10FFFF, "'\\U0010ffff'", "U+10FFFF"},
	    {-1, "'\xef\xbf\xbd'", NULL},
	    {0xD800, "'\xef\xbf\xbd'", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[QUERY_RUNE_TEXT_MAX];
		size_t n = query_quote_rune(buf, cases[i].r);
		assert_int_equal(n, strlen(buf));
		assert_string_equal(buf, cases[i].q);
		if (cases[i].u) {
			query_format_unicode(buf, cases[i].r);
			assert_string_equal(buf, cases[i].u);
		}
	}
}

static void test_query_utf8_decode_go_rules(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
		int32_t r;
		size_t w;
	} cases[] = {
	    {"a", 1, 'a', 1},
	    {"\xc3\xa9", 2, 0xe9, 2},
	    {"\xe4\xb8\xad", 3, 0x4e2d, 3},
	    {"\xf0\x9f\x98\x80", 4, 0x1f600, 4},
	    {"\xc0\x80", 2, 0xFFFD, 1},         /* overlong */
	    {"\xe0\x80\x80", 3, 0xFFFD, 1},     /* overlong */
	    {"\xed\xa0\x80", 3, 0xFFFD, 1},     /* surrogate */
	    {"\xf4\x90\x80\x80", 4, 0xFFFD, 1}, /* > U+10FFFF */
	    {"\xc3", 1, 0xFFFD, 1},             /* truncated */
	    {"\x80", 1, 0xFFFD, 1},
	    {"\xff", 1, 0xFFFD, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t w;
		assert_int_equal(query_utf8_decode(cases[i].s, cases[i].n, &w), cases[i].r);
		assert_int_equal(w, cases[i].w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_lexer_next_common),
	    cmocka_unit_test(test_query_lexer_next_numbers),
	    cmocka_unit_test(test_query_lexer_next_strings),
	    cmocka_unit_test(test_query_lexer_next_durations),
	    cmocka_unit_test(test_query_lexer_next_identifiers),
	    cmocka_unit_test(test_query_lexer_next_keywords),
	    cmocka_unit_test(test_query_lexer_next_operators),
	    cmocka_unit_test(test_query_lexer_next_selectors),
	    cmocka_unit_test(test_query_lexer_next_comments),
	    cmocka_unit_test(test_query_lexer_next_brackets),
	    cmocka_unit_test(test_query_lexer_next_parens),
	    cmocka_unit_test(test_query_lexer_next_after_error),
	    cmocka_unit_test(test_query_lexer_next_nul_byte),
	    cmocka_unit_test(test_query_token_desc_forms),
	    cmocka_unit_test(test_query_quote_go_rules),
	    cmocka_unit_test(test_query_quote_rune_forms),
	    cmocka_unit_test(test_query_utf8_decode_go_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
