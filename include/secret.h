/* secret.h - the key of derived tokens when the config names none: made once, kept beside the config. */
#ifndef NL_SECRET_H
#define NL_SECRET_H

#include <stdbool.h>

#include "nl.h"

/* The file's name, in the config's folder. */
#define NL_SECRET_FILE ".newsletter-secret"
/* 32 random bytes in hex. */
#define NL_SECRET_HEX 64

/*
 * The secret kept beside config_path (NULL or "": ./config.yml): read it,
 * or make it (getrandom) if there is none. Two processes making it at once
 * agree: the file appears whole or not at all (link of a finished
 * temporary file), and the loser reads the winner's. A file others may
 * read (or write) is refused: anyone who knows it can compute every token.
 * *created says whether this call made it. out holds NL_SECRET_HEX + 1 bytes.
 */
enum nl_err nl_secret_get(const char *config_path, char out[NL_SECRET_HEX + 1], bool *created);

#endif
