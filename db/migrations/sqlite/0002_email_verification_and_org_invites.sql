CREATE TABLE `email_verifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`email` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`verified_at` integer,
	`canceled_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `email_verifications_token_hash_unique` ON `email_verifications` (`token_hash`);--> statement-breakpoint
CREATE INDEX `email_verifications_user` ON `email_verifications` (`user_id`,`id`);--> statement-breakpoint
CREATE TABLE `org_invites` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uid` text NOT NULL,
	`org_id` integer NOT NULL,
	`email` text NOT NULL,
	`role` text NOT NULL,
	`sent_by_user_id` integer,
	`sent_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`accepted_at` integer,
	`accepted_by_user_id` integer,
	`canceled_at` integer,
	`accept_error` text,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`sent_by_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`accepted_by_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `org_invites_uid_unique` ON `org_invites` (`uid`);--> statement-breakpoint
CREATE INDEX `org_invites_email` ON `org_invites` (`email`);--> statement-breakpoint
CREATE INDEX `org_invites_org` ON `org_invites` (`org_id`);--> statement-breakpoint
ALTER TABLE `access_tokens` ADD `name` text DEFAULT 'access token' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `email_verified_at` integer;