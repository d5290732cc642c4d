import type { Knex } from 'knex';

export const up = async (knex: Knex): Promise<void> => {
  await knex.schema.createTable('job', (table: Knex.TableBuilder) => {
    table.uuid('uuid').primary().defaultTo(knex.fn.uuid());
    table.string('title').notNullable();
    table.text('description').notNullable().defaultTo('');
    table.jsonb('params').notNullable().defaultTo('{}');
    table
      .string('actor')
      .notNullable()
      .references('user.id')
      .onUpdate('CASCADE')
      .onDelete('CASCADE');
    table.dateTime('created').notNullable().defaultTo(knex.fn.now());
    table.dateTime('started');
    table.dateTime('finished');
    table.string('status').notNullable().defaultTo('created').index();
    table.jsonb('result').notNullable().defaultTo('{}');
  });
};

export const down = async (knex: Knex): Promise<void> => {
  await knex.schema.dropTable('job');
};
