import { z } from "zod";

/** An email address as every service accepts it: valid, at most 254 characters, stored lowercase. */
export const emailShape = z
  .email("That is not a valid email address; give one like name@example.com.")
  .max(254, "An email address is at most 254 characters.")
  .toLowerCase();
