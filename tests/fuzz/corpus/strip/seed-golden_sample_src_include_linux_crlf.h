/* crlf comment */
#define CRLF 1
/* multi
 * line */
int crlf; /* tail */
