CREATE TABLE `claim_transfers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uid` text NOT NULL,
	`claim_token_id` integer NOT NULL,
	`org_id` integer NOT NULL,
	`agent_org_name` text NOT NULL,
	`entities` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`claim_token_id`) REFERENCES `claim_tokens`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `claim_transfers_uid_unique` ON `claim_transfers` (`uid`);--> statement-breakpoint
CREATE UNIQUE INDEX `claim_transfers_claim_token_id_unique` ON `claim_transfers` (`claim_token_id`);--> statement-breakpoint
CREATE INDEX `claim_transfers_org_id` ON `claim_transfers` (`org_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `mail_outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sealed` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `mail_outbox_next_attempt_at` ON `mail_outbox` (`next_attempt_at`);