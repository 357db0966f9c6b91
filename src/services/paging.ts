/** One page of a list the console shows; pages count from 1, as people do. */
export interface Page<T> {
  items: T[];
  page: number;
  hasNext: boolean;
}

/** A page number from a query string: anything but a positive whole number is the first page. */
export const pageNumber = (value: unknown) => {
  const n = typeof value === "string" && /^[1-9][0-9]{0,5}$/.test(value) ? Number(value) : 1;
  return n;
};

/** What to ask the database for: one row more than a page, to know whether another follows. */
export const pageWindow = (page: number, size: number) => ({ limit: size + 1, offset: (page - 1) * size });

export const toPage = <T>(rows: T[], page: number, size: number): Page<T> => ({
  items: rows.slice(0, size),
  page,
  hasNext: rows.length > size,
});
