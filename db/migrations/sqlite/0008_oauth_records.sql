CREATE TABLE `oauth_records` (
	`model` text NOT NULL,
	`id` text NOT NULL,
	`payload` text NOT NULL,
	`grant_id` text,
	`account_id` text,
	`uid` text,
	`consumed_at` integer,
	`expires_at` integer,
	`last_used_at` integer,
	PRIMARY KEY(`model`, `id`)
);
--> statement-breakpoint
CREATE INDEX `oauth_records_account_id` ON `oauth_records` (`account_id`);--> statement-breakpoint
CREATE INDEX `oauth_records_grant_id` ON `oauth_records` (`grant_id`);--> statement-breakpoint
CREATE INDEX `oauth_records_uid` ON `oauth_records` (`uid`);--> statement-breakpoint
CREATE INDEX `oauth_records_expires_at` ON `oauth_records` (`expires_at`);