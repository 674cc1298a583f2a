-- A small call center for `make demo`: agents and the calls they take. Its
-- source writes Avro through the schema registry (configs/demo.yaml).
-- Idempotent: it drops and recreates the `callcenter` database. Load it
-- with the admin user, before the daemon starts:
--   mariadb -h127.0.0.1 -P13306 -utributary_admin -ptributary_admin < scripts/demo/callcenter.sql
SET NAMES utf8mb4;

DROP DATABASE IF EXISTS callcenter;
CREATE DATABASE callcenter CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE callcenter;

CREATE TABLE agents (
  id        INT          NOT NULL AUTO_INCREMENT,
  name      VARCHAR(120) NOT NULL,
  team      VARCHAR(40)  NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB;

CREATE TABLE calls (
  id           BIGINT       NOT NULL AUTO_INCREMENT,
  agent_id     INT          NOT NULL,
  caller       VARCHAR(32)  NOT NULL,
  started_at   DATETIME(3)  NOT NULL,
  duration_s   INT          NULL,
  outcome      ENUM('open','resolved','escalated') NOT NULL DEFAULT 'open',
  cost         DECIMAL(8,2) NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_calls_agent FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE RESTRICT
) ENGINE=InnoDB;

INSERT INTO agents (name, team) VALUES ('Aiko Tanaka', 'billing'), ('Bruno Costa', 'support');
INSERT INTO calls (agent_id, caller, started_at, duration_s, outcome, cost) VALUES
  (1, '+81 3 5555 0100', '2026-12-01 09:00:00.000', 240, 'resolved', 1.20);
