-- A small CRM for `make demo`: customers, their contacts, support tickets.
-- Idempotent: it drops and recreates the `crm` database. Load it with the
-- admin user, before the daemon starts (DDL is not turned into events):
--   mariadb -h127.0.0.1 -P13306 -utributary_admin -ptributary_admin < scripts/demo/crm.sql
--
-- Foreign keys use ON DELETE RESTRICT: InnoDB's cascaded changes are not
-- written to the binlog as row events, so a CDC pipeline would never see them.

-- The client's character set must be utf8mb4 for the emoji and CJK below.
SET NAMES utf8mb4;

DROP DATABASE IF EXISTS crm;
CREATE DATABASE crm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE crm;

CREATE TABLE customers (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name        VARCHAR(120)    NOT NULL,
  email       VARCHAR(254)    NOT NULL,
  phone       VARCHAR(32)     NULL,
  country     CHAR(2)         NOT NULL,
  balance     DECIMAL(12,2)   NOT NULL DEFAULT 0.00,
  status      ENUM('lead','active','churned') NOT NULL DEFAULT 'lead',
  tags        JSON            NULL,
  created_at  DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at  TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  UNIQUE KEY uq_customers_email (email)
) ENGINE=InnoDB;

CREATE TABLE contacts (
  id          INT UNSIGNED    NOT NULL AUTO_INCREMENT,
  customer_id BIGINT UNSIGNED NOT NULL,
  full_name   VARCHAR(120)    NOT NULL,
  email       VARCHAR(254)    NULL,
  phone       VARCHAR(32)     NULL,
  role        VARCHAR(60)     NULL,
  is_primary  BOOLEAN         NOT NULL DEFAULT FALSE,
  created_at  DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  KEY ix_contacts_customer (customer_id),
  CONSTRAINT fk_contacts_customer FOREIGN KEY (customer_id)
    REFERENCES customers (id) ON DELETE RESTRICT
) ENGINE=InnoDB;

CREATE TABLE tickets (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  customer_id BIGINT UNSIGNED NOT NULL,
  contact_id  INT UNSIGNED    NULL,
  subject     VARCHAR(200)    NOT NULL,
  priority    ENUM('low','normal','high','urgent') NOT NULL DEFAULT 'normal',
  status      ENUM('open','pending','resolved','closed') NOT NULL DEFAULT 'open',
  tags        JSON            NULL,
  opened_at   DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  resolved_at DATETIME(6)     NULL,
  updated_at  TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  KEY ix_tickets_customer_status (customer_id, status),
  CONSTRAINT fk_tickets_customer FOREIGN KEY (customer_id)
    REFERENCES customers (id) ON DELETE RESTRICT,
  CONSTRAINT fk_tickets_contact FOREIGN KEY (contact_id)
    REFERENCES contacts (id) ON DELETE RESTRICT
) ENGINE=InnoDB;

INSERT INTO customers (id, name, email, phone, country, balance, status, tags, created_at) VALUES
  (1, 'Zoë Ålund',            'zoe@alund.se',          '+46 8 123 45 67',   'SE', 1250.00, 'active', '["vip","nordics"]',  '2024-01-15 09:30:00.000000'),
  (2, 'Café Nuñez 🍰',        'hola@cafenunez.es',     '+34 91 555 01 23',  'ES',   89.90, 'active', '["horeca"]',         '2024-03-02 14:05:12.250000'),
  (3, '株式会社さくら',        'info@sakura.example.jp', NULL,               'JP',    0.00, 'lead',   '[]',                 '2024-06-20 01:00:00.000000');

INSERT INTO contacts (id, customer_id, full_name, email, phone, role, is_primary) VALUES
  (1, 1, 'Zoë Ålund',          'zoe@alund.se',          '+46 70 111 22 33', 'Owner',      TRUE),
  (2, 2, 'José Nuñez',         'jose@cafenunez.es',     '+34 600 123 456',  'Manager',    TRUE),
  (3, 2, 'Inés García',        'ines@cafenunez.es',     NULL,               'Accounting', FALSE),
  (4, 3, '佐藤 花子',           'hanako.sato@sakura.example.jp', NULL,      'Buyer',      TRUE);

INSERT INTO tickets (id, customer_id, contact_id, subject, priority, status, tags, opened_at) VALUES
  (1, 1, 1, 'Invoice 2024-117 shows the wrong VAT', 'high',   'open', '{"channel":"email","sla_hours":8}',  '2024-07-01 08:12:45.123456'),
  (2, 2, 2, 'Espresso machine order: delivery date?', 'normal', 'open', '{"channel":"phone"}',             '2024-07-02 10:00:00.000000'),
  (3, 3, NULL, 'Demo request 🚀',                      'low',    'open', '{"channel":"web","lang":"ja"}',   '2024-07-03 23:59:59.999999');
