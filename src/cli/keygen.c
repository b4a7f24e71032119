/*
 * keygen.c - `cnio keygen FILE`: a fresh shared key, refused before anything is written
 * when FILE exists or its directory does not.
 */
#include "cli.h"
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Refuses, before anything is written, a key FILE that exists or whose directory does
 * not (as ssh-keygen does): only ~/.cnio, the directory of the key clients read by
 * default, is made when missing (by cnio__key_generate). 0, or CLI_EXIT_FAIL (said).
 */
static int cli_keygen_check(const char *arg)
{
    char file[4096], dflt[4096];
    struct stat sb;
    char *slash;

    if (cnio__key_path(arg, file, sizeof(file)))
        return 0;   /* cnio__key_generate says why */
    if (lstat(file, &sb) == 0) {
        cli_err("cnio keygen: %s exists (remove it first to replace it)\n", arg);
        return CLI_EXIT_FAIL;
    }
    slash = strrchr(file, '/');
    if (!slash || slash == file)
        return 0;
    *slash = '\0';
    if (stat(file, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        cli_err("cnio keygen: %s: not a directory\n", file);
        return CLI_EXIT_FAIL;
    }
    if (stat(file, &sb) == 0 || errno != ENOENT)
        return 0;
    if (cnio__key_path("~/.cnio/key", dflt, sizeof(dflt)) == 0 && strrchr(dflt, '/') &&
        strlen(file) == (size_t)(strrchr(dflt, '/') - dflt) && strncmp(file, dflt, strlen(file)) == 0)
        return 0;
    cli_err("cnio keygen: %s: no such directory (make it first; only ~/.cnio is made "
            "when missing)\n", file);
    return CLI_EXIT_FAIL;
}

int cli_keygen(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio keygen [-q] FILE\n\nWrites a fresh random shared key to FILE (mode 0600). FILE must not exist,\n"
        "and its directory must (but ~/.cnio, which is made, mode 0700). Copy it to every\n"
        "cnio-server host (--key) and every client ($CNIO_KEY_FILE or ~/.cnio/key).\n"
        "FILE - writes it to standard output (for a pipe: keep it out of logs).\n"
        "  -q  say nothing on success\n";
    struct cli_opts o = { 0 };
    char *pos[1];
    int n = cli_parse(help, argc, argv, &o, pos, 1), rc;

    if (n == -2)
        return CLI_EXIT_OK;
    if (n == 1 && (o.key_file || o.nhints)) {   /* it reads no key and connects nowhere */
        cli_err("cnio keygen: --key and -o do not go with keygen (FILE is the key it "
                "writes)\n");
        n = -1;
    }
    if (n != 1) {
        cli_usage(help);
        return CLI_EXIT_USAGE;
    }
    rc = strcmp(pos[0], "-") ? cli_keygen_check(pos[0]) : 0;
    if (rc)
        return rc;
    rc = cnio__key_generate(pos[0]);
    if (rc)
        return cli_fail("keygen", pos[0], rc);
    if (!o.quiet && strcmp(pos[0], "-"))   /* (standard output holds the key alone) */
        printf("wrote a new key to %s (mode 0600)\n", pos[0]);
    return CLI_EXIT_OK;
}
