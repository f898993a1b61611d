-- Least-privilege PostgreSQL roles for django-authd.
--
-- Run with psql (it uses psql variables and \if), as the owner of Django's
-- tables or a superuser, in the Django database:
--
--   psql -d SITE -v authd_password='...' -f postgresql-roles.sql
--       the daemon reads; no writes (allow_change, rehash_on_login and
--       update_last_login all "no", as django-auth.conf ships)
--   ... -v write_password=yes     also for allow_change = yes and/or
--                                 rehash_on_login = yes
--   ... -v write_last_login=yes   also for update_last_login = yes
--
-- Running it again is safe: it creates what is missing, and grants or revokes
-- the two write roles as the variables say (unset means "no"). Without
-- authd_password the login role gets no password (for peer, cert or GSSAPI
-- authentication in pg_hba.conf) and an existing one keeps its own.
--
-- Then in /etc/django-auth/django-auth.conf:
--   [database]
--   engine = postgresql
--   name = SITE
--   user = django_authd
--   password_file = /etc/django-auth/db-password    (or password = ...)
--
-- What the daemon may touch, column by column (daemon/sql.cc has every
-- statement it runs). It never reads email, date_joined or last_login, and
-- never inserts or deletes.
--
--   django_authd_read           SELECT on
--       auth_user (id, username, password, is_active, is_staff, is_superuser,
--                  first_name, last_name)
--       auth_group (id, name)
--       auth_user_groups (user_id, group_id)
--       auth_user_user_permissions (user_id, permission_id)
--       auth_group_permissions (group_id, permission_id)
--       auth_permission (id, codename, content_type_id)
--       django_content_type (id, app_label)
--   django_authd_write_password   UPDATE (password) ON auth_user
--   django_authd_write_last_login UPDATE (last_login) ON auth_user
--   django_authd                  LOGIN; member of the read role, and of the
--                                 write roles only when asked for.
--
-- A custom user model ([schema] in django-auth.conf): change the table and
-- column names below to match. Tables outside the "public" schema: grant
-- USAGE on their schema too.
--
-- A daemon that lacks a write grant still answers lookups and logins: a
-- password change then fails (the PAM module reports the service as
-- unavailable), a last_login update is skipped, and each logs PostgreSQL's
-- "permission denied" in the daemon's log.

\set ON_ERROR_STOP on

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'django_authd_read') AS need_read,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'django_authd_write_password') AS need_write_password,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'django_authd_write_last_login') AS need_write_last_login,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'django_authd') AS need_login
\gset

\if :need_read
CREATE ROLE django_authd_read NOLOGIN;
\endif
\if :need_write_password
CREATE ROLE django_authd_write_password NOLOGIN;
\endif
\if :need_write_last_login
CREATE ROLE django_authd_write_last_login NOLOGIN;
\endif
\if :need_login
CREATE ROLE django_authd LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT;
\endif
\if :{?authd_password}
ALTER ROLE django_authd PASSWORD :'authd_password';
\endif

GRANT USAGE ON SCHEMA public TO django_authd_read;

GRANT SELECT (id, username, password, is_active, is_staff, is_superuser, first_name, last_name)
    ON auth_user TO django_authd_read;
GRANT SELECT (id, name) ON auth_group TO django_authd_read;
GRANT SELECT (user_id, group_id) ON auth_user_groups TO django_authd_read;
GRANT SELECT (user_id, permission_id) ON auth_user_user_permissions TO django_authd_read;
GRANT SELECT (group_id, permission_id) ON auth_group_permissions TO django_authd_read;
GRANT SELECT (id, codename, content_type_id) ON auth_permission TO django_authd_read;
GRANT SELECT (id, app_label) ON django_content_type TO django_authd_read;

-- "UPDATE auth_user SET password = $2 WHERE id = $1": UPDATE on the one
-- column (SELECT on id comes with the read role).
GRANT UPDATE (password) ON auth_user TO django_authd_write_password;
GRANT UPDATE (last_login) ON auth_user TO django_authd_write_last_login;

GRANT django_authd_read TO django_authd;

\if :{?write_password}
\else
\set write_password no
\endif
\if :write_password
GRANT django_authd_write_password TO django_authd;
\else
REVOKE django_authd_write_password FROM django_authd;
\endif

\if :{?write_last_login}
\else
\set write_last_login no
\endif
\if :write_last_login
GRANT django_authd_write_last_login TO django_authd;
\else
REVOKE django_authd_write_last_login FROM django_authd;
\endif
