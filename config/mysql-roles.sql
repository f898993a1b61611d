-- A least-privilege MySQL / MariaDB account for django-authd (engine = mysql).
--
-- Run with the mariadb (or mysql) client, as an account that may grant on
-- Django's tables, in the Django database; settings come as user variables
-- in --init-command:
--
--   mariadb SITE --init-command="SET @authd_password = '...'" < mysql-roles.sql
--       the daemon reads; no writes (allow_change, rehash_on_login and
--       update_last_login all "no", as django-auth.conf ships)
--   ... SET @write_password = 'yes'     also for allow_change = yes and/or
--                                       rehash_on_login = yes
--   ... SET @write_last_login = 'yes'   also for update_last_login = yes
--   ... SET @authd_host = '10.0.0.5'    the daemon's host (default: localhost,
--                                       the Unix socket)
--
-- Running it again is safe: it creates the account if missing (without
-- @authd_password an existing one keeps its password), and grants or revokes
-- the two UPDATE privileges as the variables say (unset means "no").
--
-- Then in /etc/django-auth/django-auth.conf:
--   [database]
--   engine = mysql
--   name = SITE
--   user = django_authd
--   password_file = /etc/django-auth/db-password    (or password = ...)
--   host = /run/mysqld/mysqld.sock                  (or the server's name)
--
-- What the daemon may touch, column by column (daemon/sql.cc has every
-- statement it runs). It never reads email, date_joined or last_login, and
-- never inserts or deletes.
--
--   SELECT on
--       auth_user (id, username, password, is_active, is_staff, is_superuser,
--                  first_name, last_name)
--       auth_group (id, name)
--       auth_user_groups (user_id, group_id)
--       auth_user_user_permissions (user_id, permission_id)
--       auth_group_permissions (group_id, permission_id)
--       auth_permission (id, codename, content_type_id)
--       django_content_type (id, app_label)
--   UPDATE (password) ON auth_user     only with @write_password = 'yes'
--   UPDATE (last_login) ON auth_user   only with @write_last_login = 'yes'
--
-- A custom user model ([schema] in django-auth.conf): change the table and
-- column names below to match.
--
-- A daemon that lacks a write grant still answers lookups and logins: a
-- password change then fails (the PAM module reports the service as
-- unavailable), a last_login update is skipped, and each logs the server's
-- "command denied" in the daemon's log.

SET @account = CONCAT(QUOTE('django_authd'), '@', QUOTE(IFNULL(@authd_host, 'localhost')));

-- Statements with the account's name in them are made as text and prepared
-- (GRANT takes no variables).
SET @s = CONCAT('CREATE USER IF NOT EXISTS ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
SET @s = IF(@authd_password IS NULL, 'DO 0',
            CONCAT('ALTER USER ', @account, ' IDENTIFIED BY ', QUOTE(@authd_password)));
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;

SET @s = CONCAT('GRANT SELECT (id, username, password, is_active, is_staff, is_superuser, first_name, last_name) ON auth_user TO ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
SET @s = CONCAT('GRANT SELECT (id, name) ON auth_group TO ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
SET @s = CONCAT('GRANT SELECT (user_id, group_id) ON auth_user_groups TO ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
SET @s = CONCAT('GRANT SELECT (user_id, permission_id) ON auth_user_user_permissions TO ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
SET @s = CONCAT('GRANT SELECT (group_id, permission_id) ON auth_group_permissions TO ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
SET @s = CONCAT('GRANT SELECT (id, codename, content_type_id) ON auth_permission TO ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
SET @s = CONCAT('GRANT SELECT (id, app_label) ON django_content_type TO ', @account);
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;

-- "UPDATE auth_user SET password = ? WHERE id = ?": UPDATE on the one column
-- (SELECT on id comes with the read grants). Revoked when not asked for and
-- held (a REVOKE of a privilege never granted is an error).
SET @has_password = (SELECT COUNT(*) FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = @account
                     AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'auth_user' AND COLUMN_NAME = 'password'
                     AND PRIVILEGE_TYPE = 'UPDATE');
SET @s = IF(IFNULL(@write_password, 'no') = 'yes', CONCAT('GRANT UPDATE (password) ON auth_user TO ', @account),
            IF(@has_password > 0, CONCAT('REVOKE UPDATE (password) ON auth_user FROM ', @account), 'DO 0'));
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;

SET @has_last_login = (SELECT COUNT(*) FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = @account
                       AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'auth_user' AND COLUMN_NAME = 'last_login'
                       AND PRIVILEGE_TYPE = 'UPDATE');
SET @s = IF(IFNULL(@write_last_login, 'no') = 'yes', CONCAT('GRANT UPDATE (last_login) ON auth_user TO ', @account),
            IF(@has_last_login > 0, CONCAT('REVOKE UPDATE (last_login) ON auth_user FROM ', @account), 'DO 0'));
PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;
